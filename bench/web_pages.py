"""The web benchmark's in-process measurements: every page for every role, and the sign-in steps.

Each page is asked for with django.test.Client (the whole middleware stack, production settings): once with
its queries counted (CaptureQueriesContext), which also warms the caches, then `runs` times with the clock
only; the server time is the median of those.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import TOTPDevice, User
from bench.web_data import DataSet
from bench.web_forms import forms_of
from bench.web_shapes import BIG, PASSWORD, SMALL, big_primary
from onboarding.models import ItemState, RequestItem

ADMIN, MANAGER, PARTNER_ADMIN, STAFF, ANONYMOUS = "admin", "account manager", "partner admin", "partner staff", "-"
ROLES = (ADMIN, MANAGER, PARTNER_ADMIN, STAFF)
VENDOR = (ADMIN, MANAGER)
PAGE_QUERIES = 15
PAGE_MS, ADMIN_PAGE_MS = 100, 300
PAST_THE_END = 1_000_000  # a page number past the end of any list: the portal shows the last page
SLOW_MS = 1000  # a page slower than this is timed once more only, not `runs` times


@dataclass
class Measure:
    queries: int
    ms: float
    status: int


@dataclass
class Page:
    label: str
    path: str
    roles: tuple[str, ...]
    admin: bool = False

    @property
    def limit_ms(self) -> int:
        return ADMIN_PAGE_MS if self.admin else PAGE_MS


def https_client() -> Client:
    # Production redirects plain HTTP; behind the TLS proxy (TRUST_X_FORWARDED_PROTO) the request is HTTPS.
    # A server error is a result to report (HTTP 500), not an exception that ends the benchmark.
    return Client(raise_request_exception=False, HTTP_X_FORWARDED_PROTO="https")


def signed_in(user: User) -> Client:
    """A client signed in as `user`; vendor staff as if they had given their second factor (the admin needs it)."""
    client = https_client()
    client.force_login(user)
    if user.is_vendor_staff:
        pk = TOTPDevice.objects.filter(user=user).values_list("pk", flat=True).first()
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = TOTPDevice(pk=pk).persistent_id  # its key stays encrypted
        session.save()
    return client


def role_users(ds: DataSet) -> dict[str, User]:
    big = ds.partner(BIG)
    return {
        ADMIN: User.objects.get(pk=ds.admins[0]),
        MANAGER: User.objects.get(pk=big.manager_id),  # manages the big MSP and the small reseller
        PARTNER_ADMIN: User.objects.get(pk=big.user_ids[0]),  # k = 0: a partner admin (every fifth is)
        STAFF: User.objects.get(pk=big.user_ids[1]),
    }


def session_cookie(client: Client) -> str:
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def measure(client: Client, method: str, path: str, runs: int, data=None, **extra) -> Measure:
    """Queries of the first call, median server time of the next `runs` (GET only: a POST is timed once)."""
    call = getattr(client, method)
    # Django empties the query log when a request starts: an earlier capture's entries would hide this one's.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = call(path, data, **extra) if data is not None else call(path, **extra)
        first = time.perf_counter() - started
    count = len(queries)  # now: the log it reads is emptied again by the next request
    times = []
    for _ in range(runs if first * 1000 < SLOW_MS else 1):
        started = time.perf_counter()
        call(path, **extra)
        times.append(time.perf_counter() - started)
    ms = 1000 * (statistics.median(times) if times else first)
    return Measure(count, ms, response.status_code)


def timeline_item(ds: DataSet) -> int:
    """A person of the big MSP who has come furthest (accepted, or at least invited)."""
    items = RequestItem.objects.filter(partner_id=ds.partner(BIG).id)
    for state in (ItemState.ACCEPTED, ItemState.INVITED):
        if pk := items.filter(state=state).order_by("pk").values_list("pk", flat=True).first():
            return pk
    return items.order_by("pk").values_list("pk", flat=True).first()


def page_list(ds: DataSet, search_address: str) -> list[Page]:
    rid, item = ds.fixed_request_id, timeline_item(ds)
    big = f"/partners/{BIG}/"
    pages = [
        Page("dashboard", "/", ROLES),
        Page("partners", "/partners/", VENDOR),
        Page("partner page (big MSP)", big, ROLES),
        Page("partner page (small reseller)", f"/partners/{SMALL}/", VENDOR),
        Page("review queue", "/review/", VENDOR),
        Page("review queue, last page", f"/review/?page={PAST_THE_END}", VENDOR),
        Page("request detail (1,000 people)", f"{big}requests/{rid}/", ROLES),
        Page("request detail, last page", f"{big}requests/{rid}/?page={PAST_THE_END}", ROLES),
        Page("person timeline", f"{big}people/{item}/", ROLES),
        Page("request form", f"{big}requests/new/", (ADMIN, MANAGER, PARTNER_ADMIN)),
        Page("security", "/accounts/security/", ROLES),
        Page("sign-in: address step", "/accounts/login/", (ANONYMOUS,)),
        Page("sign-in: password step", "/accounts/login/password/", (ANONYMOUS,)),
        Page("admin: index", "/admin/", (ADMIN,), admin=True),
    ]
    for label, path in (
        ("audit events", "core/auditevent"), ("directory people", "directory_sync/directoryuser"),
        ("directory addresses", "directory_sync/directoryaddress"), ("request items", "onboarding/requestitem"),
        ("invites", "onboarding/invite"), ("outbound mail", "core/outboundmail"), ("users", "accounts/user"),
        ("partners", "partners/partner"), ("requests", "onboarding/portaluserrequest"),
    ):
        pages.append(Page(f"admin: {label}", f"/admin/{path}/", (ADMIN,), admin=True))
    pages += [
        Page("admin: request (1,000 people)", f"/admin/onboarding/portaluserrequest/{rid}/change/", (ADMIN,),
             admin=True),
        Page("admin: search an address", f"/admin/directory_sync/directoryaddress/?q={search_address}", (ADMIN,),
             admin=True),
    ]
    return pages


def measure_pages(ds: DataSet, *, runs: int, log) -> tuple[dict[tuple[str, str], Measure], list[str]]:
    """Every page for every role that may see it: {(page, role): Measure}, and what went wrong."""
    users = role_users(ds)
    clients = {role: signed_in(user) for role, user in users.items()}
    anonymous = https_client()
    # The password step needs the address of the first step in the session.
    first_step = address_step(anonymous, big_primary(3))
    clients[ANONYMOUS] = anonymous
    problems = [] if first_step.status_code == 302 else [f"sign-in address step: HTTP {first_step.status_code}"]
    results: dict[tuple[str, str], Measure] = {}
    for page in page_list(ds, search_address=big_primary(7).lower()):
        for role in page.roles:
            m = measure(clients[role], "get", page.path, runs)
            results[(page.label, role)] = m
            if m.status != 200:
                problems.append(f"{page.label} as {role}: HTTP {m.status} for GET {page.path}")
        log(f"  {page.label}: " + ", ".join(f"{r} {results[(page.label, r)].queries} q "
                                            f"{results[(page.label, r)].ms:.1f} ms" for r in page.roles))
    return results, problems


def _step_data(client: Client, path: str, kind: str, value: str) -> dict[str, str]:
    """What the form on `path` posts with `value` typed into its field of input type `kind` (or named so)."""
    for form in forms_of(client.get(path).content.decode()):
        name = next((n for n, _, t in form.fields if t == kind), None)
        if name is None and kind in form.names():
            name = kind
        if name is not None:
            return form.values() | {name: value}
    return {kind: value}  # the page answered something else: the POST will say what


def address_step(client: Client, email: str):
    """Sign-in's first step as its page's form posts it: the address."""
    return client.post("/accounts/login/", _step_data(client, "/accounts/login/", "email", email))


def password_step_data(client: Client, password: str) -> dict[str, str]:
    return _step_data(client, "/accounts/login/password/", "password", password)


def signin_cost(ds: DataSet, *, runs: int) -> tuple[Measure, float, list[str]]:
    """The password step's POST for a cloud-password user (the real hasher), and the hash check alone (ms)."""
    email = big_primary(3)  # a partner staff member of the big MSP: cloud password, two-factor optional
    times, queries, problems, status = [], 0, [], 0
    for n in range(runs + 1):
        client = https_client()
        address_step(client, email)
        data = password_step_data(client, PASSWORD)
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.post("/accounts/login/password/", data)
            took = time.perf_counter() - started
        status = response.status_code
        if status != 302 or response.headers.get("Location", "").startswith("/accounts/login"):
            problems.append(f"sign-in password step: HTTP {status} to {response.headers.get('Location')!r}")
            break
        if n == 0:
            queries = len(captured)  # the first also warms the caches
        else:
            times.append(took)
    encoded = User.objects.get(email=email.lower()).password
    hash_times = []
    for _ in range(runs):
        started = time.perf_counter()
        check_password(PASSWORD, encoded)
        hash_times.append(time.perf_counter() - started)
    ms = 1000 * statistics.median(times) if times else float("nan")
    return Measure(queries, ms, status), 1000 * statistics.median(hash_times), problems
