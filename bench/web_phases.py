"""The web benchmark's in-process phases: build the data set, measure pages at two sizes, the actions, sign-in.

Runs after django.setup() with the benchmark's environment (bench/web_bench.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from django.core.management import call_command

from bench import web_actions, web_pages
from bench.web_data import DataSet, table_counts
from bench.web_pages import MANAGER, PARTNER_ADMIN, STAFF, Measure
from bench.web_shapes import BIG

SMALL_SHARE = 0.1  # the first size: 1/10 of the full one
MIX_SESSIONS = 5  # sessions per signed-in role in the browsing mix


@dataclass
class Measured:
    pages_small: dict[tuple[str, str], Measure] = field(default_factory=dict)
    pages_full: dict[tuple[str, str], Measure] = field(default_factory=dict)
    pages: list[web_pages.Page] = field(default_factory=list)
    actions: list[web_actions.Action] = field(default_factory=list)
    signin: Measure | None = None
    hash_ms: float = 0.0
    counts_small: dict[str, int] = field(default_factory=dict)
    counts_full: dict[str, int] = field(default_factory=dict)
    build_seconds: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    mix_plan: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def trivial_plan() -> list[dict]:
    return [{"weight": 1, "cookie": "", "paths": ["/bench/trivial"]}]


def mix_plan(ds: DataSet) -> list[dict]:
    """Signed-in people of the big MSP (its account manager, a partner admin, a staff member) on the dashboard and
    the partner's page, and anonymous people on the sign-in page, in equal shares."""
    users = web_pages.role_users(ds)
    browse = ["/", f"/partners/{BIG}/"]
    plan = [{"weight": 1, "cookie": web_pages.session_cookie(web_pages.signed_in(users[role])), "paths": browse}
            for role in (MANAGER, PARTNER_ADMIN, STAFF) for _ in range(MIX_SESSIONS)]
    plan.append({"weight": MIX_SESSIONS, "cookie": "", "paths": ["/accounts/login/"]})
    return plan


def build(ds: DataSet, scale: float, analyze, log) -> float:
    """Grow the data set to `scale` and refresh the planner's statistics; returns the seconds it took."""
    started = time.monotonic()
    written = ds.grow(scale)
    copied = time.monotonic() - started
    vacuum = analyze()
    log(f"  wrote {sum(written.values()):,} rows in {copied:.1f} s, VACUUM ANALYZE {vacuum:.1f} s: "
        + ", ".join(f"{n:,} {what}" for what, n in written.items() if n))
    return time.monotonic() - started


def pages(args, *, analyze, log) -> tuple[Measured, DataSet]:
    """Build at 1/10, measure the pages, grow to full size, measure them again."""
    out = Measured()
    log("migrating …")
    call_command("migrate", "--noinput", verbosity=0)
    ds = DataSet(seed=args.seed)
    small = args.scale * SMALL_SHARE
    log(f"building the data set at scale {small:g} …")
    out.build_seconds.append(build(ds, small, analyze, log))
    out.counts_small = table_counts()
    out.loads.append(os.getloadavg()[0])
    log(f"pages at scale {small:g} ({out.counts_small['directory people']:,} directory people) …")
    out.pages_small, problems = web_pages.measure_pages(ds, runs=max(1, args.runs - 2), log=log)
    out.problems += problems
    log(f"growing the data set to scale {args.scale:g} …")
    out.build_seconds.append(build(ds, args.scale, analyze, log))
    out.counts_full = table_counts()
    out.loads.append(os.getloadavg()[0])
    log(f"pages at scale {args.scale:g} ({out.counts_full['directory people']:,} directory people) …")
    out.pages_full, problems = web_pages.measure_pages(ds, runs=args.runs, log=log)
    out.problems += problems
    out.pages = web_pages.page_list(ds, search_address="")
    out.mix_plan = mix_plan(ds)
    return out, ds


def actions(args, ds: DataSet, out: Measured, *, log) -> None:
    """The bulk actions and the sign-in's cost, after the pages and the load test (they add to the big MSP)."""
    out.loads.append(os.getloadavg()[0])
    log("bulk actions …")
    users = web_pages.role_users(ds)
    clients = {role: web_pages.signed_in(user) for role, user in users.items()}
    try:
        actions, form_request = web_actions.request_actions(ds, clients)
        out.actions += actions
        out.actions.append(web_actions.approve_list(clients, users[MANAGER], form_request))
    except web_actions.ActionFailed as exc:
        out.problems.append(str(exc))
    out.actions.append(web_actions.lookups(ds))
    try:
        out.actions.append(web_actions.import_directory(clients, people=max(1000, round(50_000 * args.scale))))
    except web_actions.ActionFailed as exc:
        out.problems.append(str(exc))
    for action in out.actions:
        log(f"  {action.label}: {action.queries} q, {action.ms:,.1f} ms {action.detail}")
    log("sign-in …")
    out.signin, out.hash_ms, problems = web_pages.signin_cost(ds, runs=args.runs)
    out.problems += problems
