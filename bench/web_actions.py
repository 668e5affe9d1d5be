"""The web benchmark's bulk actions, through the views people use (so the forms' limits apply).

Each posts what the page's form posts (read from the rendered page, bench/web_forms.py) and is timed once,
with its queries counted; its effect is checked in the database, and a wrong one is a failure, not a result.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.web_data import DataSet
from bench.web_forms import form_with, forms_of
from bench.web_pages import ADMIN, MANAGER, PARTNER_ADMIN
from bench.web_shapes import BIG, CSV_TARGET, FIXED_LIST, big_primary, domain_of, person_name
from directory_sync.models import DirectoryConnection, DirectoryUser, SyncRun, SyncStatus
from directory_sync.selectors import recipient_lookup
from onboarding.models import ItemState, PortalUserRequest, RequestItem

LIST = 1_000
APPROVE_S, LIST_S, LOOKUP_MS = 2.0, 1.0, 2.0
IMPORT_PEOPLE = 50_000


@dataclass
class Action:
    label: str
    role: str
    queries: int | None
    ms: float
    target: str
    ok: bool | None
    detail: str = ""


class ActionFailed(RuntimeError):
    """An action did not do what it should (an HTTP error, nothing written): the benchmark exits non-zero."""


def timed(client: Client, method: str, path: str, data, **extra):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = getattr(client, method)(path, data, **extra)
        seconds = time.perf_counter() - started
    return response, len(queries), seconds


def list_people(ds: DataSet, *, offset: int) -> list[tuple[str, str]]:
    """1,000 people of the big MSP from the top of its directory, above every person the data set requested or
    gave access (at full size all of them are in the directory; at small scales the rest are new hires)."""
    top = ds.big_people - offset - LIST
    floor = FIXED_LIST + ds.have["items"]  # the big MSP's items and users are its people below this
    rows = []
    for k in range(top, top + LIST):
        first, last = person_name(k)
        email = big_primary(k) if k >= floor else f"new.hire.{k + LIST * 1000}@{domain_of(BIG)}"
        rows.append((f"{first} {last}", email))
    return rows


def _rows_post(form_page: str, rows: list[tuple[str, str]], button: str) -> dict[str, str]:
    """The rows form as the page's script would post it with `rows` typed in: its formset's prefix and fields
    read from the page (the first row's name and email fields)."""
    form = next((f for f in forms_of(form_page) if any(n.endswith("-TOTAL_FORMS") for n in f.names())), None)
    if form is None:
        raise ActionFailed("the request form has no formset of rows (no *-TOTAL_FORMS field)")
    total = next(n for n in form.names() if n.endswith("-TOTAL_FORMS"))
    prefix = total.removesuffix("-TOTAL_FORMS")
    data = form.values()
    data[total] = str(len(rows))
    for i, (name, email) in enumerate(rows):
        data[f"{prefix}-{i}-name"], data[f"{prefix}-{i}-email"] = name, email
    button_name = next((n for n, v in form.buttons() if n == button), None)
    if button_name is None:
        raise ActionFailed(f"the request form has no {button!r} button")
    data[button] = dict(form.buttons())[button]
    return data


def _submitted_request(response, partner_id: int, before: int) -> PortalUserRequest:
    if response.status_code != 302:
        raise ActionFailed(f"submitting a list answered HTTP {response.status_code}, not a redirect to the list")
    latest = PortalUserRequest.objects.filter(partner_id=partner_id, pk__gt=before).order_by("-pk").first()
    if latest is None or latest.items.count() != LIST:
        raise ActionFailed(f"the submitted list holds {latest.items.count() if latest else 0} people, not {LIST}")
    return latest


def request_actions(ds: DataSet, clients: dict[str, Client]) -> tuple[list[Action], int]:
    """Check and submit a 1,000-row list (form), submit a 1,000-row CSV; returns the form list's request id."""
    client = clients[PARTNER_ADMIN]
    path = f"/partners/{BIG}/requests/new/"
    page = client.get(path).content.decode()
    rows = list_people(ds, offset=0)
    actions = []
    response, queries, seconds = timed(client, "post", path, _rows_post(page, rows, "check"))
    if response.status_code != 200:
        raise ActionFailed(f"checking a 1,000-row list answered HTTP {response.status_code}")
    actions.append(Action("check a 1,000-row list (form)", PARTNER_ADMIN, queries, 1000 * seconds,
                          f"< {LIST_S:.0f} s", seconds < LIST_S))
    before = PortalUserRequest.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response, queries, seconds = timed(client, "post", path, _rows_post(page, rows, "submit"))
    form_request = _submitted_request(response, ds.partner(BIG).id, before)
    actions.append(Action("submit a 1,000-row list (form)", PARTNER_ADMIN, queries, 1000 * seconds,
                          f"< {LIST_S:.0f} s", seconds < LIST_S))
    csv_form = form_with(page, field_name="csv-file")
    if csv_form is None:
        raise ActionFailed("the request form has no CSV upload (csv-file)")
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["name", "email"])
    writer.writerows(list_people(ds, offset=LIST))
    data = csv_form.values() | {"csv-file": SimpleUploadedFile("people.csv", body.getvalue().encode(), "text/csv")}
    before = form_request.pk
    response, queries, seconds = timed(client, "post", path, data)
    _submitted_request(response, ds.partner(BIG).id, before)
    actions.append(Action("submit a 1,000-row list (CSV)", PARTNER_ADMIN, queries, 1000 * seconds,
                          f"< {LIST_S:.0f} s", seconds < LIST_S))
    return actions, form_request.pk


def approve_list(clients: dict[str, Client], manager, request_id: int) -> Action:
    """The account manager approves the 1,000 people of one list from the review queue: the queue filtered to
    the list and "approve all that match" where the queue offers it, else every one of them ticked."""
    client = clients[MANAGER]
    queue = RequestItem.objects.filter(partner__account_manager=manager, state=ItemState.SUBMITTED)
    waiting = queue.count()
    page = client.get(f"/review/?list={request_id}").content.decode()
    form = form_with(page, action_contains="/review/decide/")
    if form is None:
        raise ActionFailed("the review queue has no form posting to /review/decide/")
    decisions = {value for name, value in form.buttons() if name == "decision"}
    if "approve_all" in decisions:
        how, data = "all that match", form.values() | {"decision": "approve_all"}
    else:
        ids = [str(pk) for pk in RequestItem.objects.filter(request_id=request_id).values_list("pk", flat=True)]
        how, data = "all ticked", form.values() | {"item": ids, "decision": "approve"}
    response, queries, seconds = timed(client, "post", form.action, data)
    if response.status_code != 302:
        raise ActionFailed(f"approving a list answered HTTP {response.status_code}")
    states = dict.fromkeys(ItemState.values, 0)
    for state in RequestItem.objects.filter(request_id=request_id).values_list("state", flat=True):
        states[state] += 1
    if states[ItemState.SUBMITTED]:
        raise ActionFailed(f"approving a 1,000-person list ({how}) left {states[ItemState.SUBMITTED]} submitted")
    if waiting - queue.count() != LIST:  # e.g. the list filter not applied: the whole queue approved
        raise ActionFailed(f"approving a 1,000-person list ({how}) decided {waiting - queue.count()} people")
    detail = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in states.items() if n)
    return Action(f"approve a 1,000-person list (review queue, {how})", MANAGER, queries, 1000 * seconds,
                  f"< {APPROVE_S:.0f} s", seconds < APPROVE_S, detail)


def lookups(ds: DataSet, *, count: int = 300) -> Action:
    """recipient_lookup for addresses of the big MSP: primaries, aliases and unknown ones (median)."""
    partner_id = ds.partner(BIG).id
    step = max(1, ds.big_people // count)
    addresses = []
    for n, k in enumerate(range(0, ds.big_people, step)):
        first, _ = person_name(k)
        addresses.append([big_primary(k), f"{first}.{k}@{domain_of(BIG)}", f"nobody.{k}@{domain_of(BIG)}"][n % 3])
    times = []
    for address in addresses[:count]:
        started = time.perf_counter()
        recipient_lookup(partner_id=partner_id, address=address)
        times.append(time.perf_counter() - started)
    ms = 1000 * statistics.median(times)
    return Action(f"recipient lookup, median of {len(times)} (big MSP)", "-", 2, ms, f"< {LOOKUP_MS:.0f} ms",
                  ms < LOOKUP_MS)


def directory_csv(n: int) -> bytes:
    domain = domain_of(CSV_TARGET)
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["name", "primary", "aliases", "forwarding", "enabled"])
    for k in range(n):
        first, last = person_name(k)
        aliases = ";".join([f"{first}.{k}@{domain}", f"{first[0]}{last}.{k}@{domain}"][: k % 3])
        forwarding = f"{first}.{last}.{k}@{CSV_TARGET}-mail.example" if k % 4 == 0 else ""
        writer.writerow([f"{first} {last} {k}", f"{first}.{last}.{k}@{domain}", aliases, forwarding,
                         "no" if k % 25 == 0 else "yes"])
    return body.getvalue().encode()


def import_directory(clients: dict[str, Client], *, people: int = IMPORT_PEOPLE) -> Action:
    """An admin uploads a 50,000-person directory CSV for an account without a directory server."""
    client = clients[ADMIN]
    connection_id = DirectoryConnection.objects.get(partner__slug=CSV_TARGET).pk
    path = f"/admin/directory_sync/directoryconnection/{connection_id}/upload-csv/"
    page = client.get(path)
    if page.status_code != 200:
        raise ActionFailed(f"the admin's CSV upload page answered HTTP {page.status_code}")
    form = form_with(page.content.decode(), field_name="file")
    data = form.values() | {"file": SimpleUploadedFile("people.csv", directory_csv(people), "text/csv")}
    response, queries, seconds = timed(client, "post", path, data)
    run = SyncRun.objects.filter(connection_id=connection_id).order_by("-pk").first()
    if response.status_code != 302 or run is None or run.status != SyncStatus.SUCCEEDED:
        raise ActionFailed(f"the directory CSV upload answered HTTP {response.status_code}, run {run and run.status}: "
                           f"{run and run.error}")
    stored = DirectoryUser.objects.filter(partner__slug=CSV_TARGET).count()
    if run.created != people or stored != people:
        raise ActionFailed(f"the directory CSV import created {run.created} and stored {stored} of {people} people")
    return Action(f"import a {people:,}-person directory CSV (admin upload)", ADMIN, queries, 1000 * seconds, "", None,
                  f"{people / seconds:,.0f} people/s")
