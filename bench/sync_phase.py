"""One phase of the directory-sync benchmark, alone in its own process.

bench/sync_bench.py runs every phase as a child process,

    python -m bench.sync_phase PHASE --out RESULT.json [--params JSON]

with DJANGO_SETTINGS_MODULE=portal.settings.test and DATABASE_URL pointing at the benchmark's
database, so that each phase's peak RSS (VmHWM) is its own and nothing one phase caches helps
the next. Django's start-up and the database connection happen before the clock starts; only
the measured call is timed (time.perf_counter). The result is a JSON object written to --out:
phase, seconds, peak_mb, entries, plus what the phase checked.

Phases:
  setup        create the benchmark partner with its LDAP connection, and the floor's scratch partner
  floor        bare paged search + COPY of the same rows into the real tables (scratch partner)
  full         directory_sync_run(full=True) into the empty account
  resync       the same again with nothing changed
  incremental  directory_sync_run(full=False) after the orchestrator changed some entries
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_SLUG = "bench-sync"
FLOOR_SLUG = "bench-floor"

Result = dict[str, Any]


def peak_mb() -> float:
    """This process's peak resident set size (VmHWM) so far, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all its threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()
    from django.db import connection

    # Opening the connection is start-up, not sync: done before any clock starts.
    connection.ensure_connection()
    # So is Celery's: a successful run queues a task (onboarding's re-check), and a worker process has its
    # app loaded and its broker connection open long before (sync_bench.bench_redis_url).
    from celery import current_app

    with current_app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=1)
        # Nobody takes it (the db is emptied at the end); it sets up what every later publish reuses.
        current_app.send_task("bench.warm-up", producer=producer)


# --- setup ----------------------------------------------------------------------------------------------------------


def phase_setup(params: dict) -> Result:
    from directory_sync.services.connections import directory_connection_configure
    from partners.models import Partner, PartnerKind

    partner = Partner.objects.create(name="Benchmark Partner", slug=BENCH_SLUG, kind=PartnerKind.MSP)
    connection = directory_connection_configure(
        partner=partner,
        preset="active-directory",
        uri=params["uri"],
        start_tls=False,  # the throwaway slapd has no certificate
        bind_dn=params["bind_dn"],
        bind_password=params["bind_password"],
        base_dn=params["base_dn"],
        user_filter="(objectClass=adLiteObject)",
        page_size=1000,
    )
    # The floor writes into the same tables, under a partner of its own, then deletes its rows.
    scratch = Partner.objects.create(name="Benchmark floor (scratch)", slug=FLOOR_SLUG, kind=PartnerKind.MSP)
    return {"partner_id": partner.pk, "connection_id": connection.pk, "scratch_partner_id": scratch.pk}


# --- floor ----------------------------------------------------------------------------------------------------------


def _bare_search(*, uri: str, bind_dn: str, password: str, base_dn: str, search: str, attributes: list[str],
                 page_size: int) -> list[tuple[str, dict[str, list[bytes]]]]:
    """Every entry of a paged subtree search (RFC 2696), one page at a time, no thread, no mapping."""
    import ldap
    from ldap.controls import SimplePagedResultsControl

    conn = ldap.initialize(uri, bytes_mode=False)
    conn.protocol_version = ldap.VERSION3
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.simple_bind_s(bind_dn, password)
    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    entries = []
    try:
        while True:
            msgid = conn.search_ext(base_dn, ldap.SCOPE_SUBTREE, search, attributes, serverctrls=[control])
            _, data, _, controls = conn.result3(msgid)
            entries.extend((dn, attrs) for dn, attrs in data if dn)
            cookies = [c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType]
            if not cookies or not cookies[0]:
                return entries
            control.cookie = cookies[0]
    finally:
        conn.unbind_s()


def _copy_text(rows: Iterable[Sequence[object]]) -> str:
    """COPY's text format; values are escaped as COPY requires (backslash, tab, newline, carriage return)."""
    out = io.StringIO()
    for row in rows:
        out.write("\t".join(
            str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            for v in row
        ))
        out.write("\n")
    return out.getvalue()


def phase_floor(params: dict) -> Result:
    from django.db import connection as db
    from django.db import transaction
    from django.utils import timezone

    from directory_sync.errors import SkipEntry
    from directory_sync.mapping import EntryMapper, SourceKeys, requested_attributes, resolve_mapping
    from directory_sync.models import DirectoryAddress, DirectoryConnection, DirectoryUser
    from directory_sync.sources.ldap import user_filter
    from partners.models import Partner

    # The same directory, filter, attributes and page size the sync uses: read from its connection.
    conn = DirectoryConnection.objects.get(partner__slug=BENCH_SLUG)
    scratch = Partner.objects.get(slug=FLOOR_SLUG)
    mapping = resolve_mapping(preset=conn.preset, overrides=conn.attribute_overrides)
    attributes = requested_attributes(mapping)

    started = time.perf_counter()
    entries = _bare_search(
        uri=conn.uri, bind_dn=conn.bind_dn, password=conn.bind_password, base_dn=conn.base_dn,
        search=user_filter(conn), attributes=attributes, page_size=conn.page_size,
    )
    search_s = time.perf_counter() - started

    # Untimed: the rows the sync would store, with ids reserved from the tables' own sequences so the people
    # and their addresses can both be COPYed (no INSERT … RETURNING round trip).
    people = []
    skipped = 0
    keys, mapper = SourceKeys(mapping), EntryMapper(mapping)
    for dn, attrs in entries:
        try:
            person = mapper((dn, attrs))
        except SkipEntry:
            skipped += 1
            continue
        person.source_hash = keys((dn, attrs))[1]
        people.append(person)
    del entries
    users, addresses = DirectoryUser._meta.db_table, DirectoryAddress._meta.db_table
    with db.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [users, len(people)])
        ids = [row[0] for row in cursor.fetchall()]
    now = timezone.now().isoformat()
    user_rows, address_rows, claimed = [], [], set()
    for pk, person in zip(ids, people, strict=True):
        user_rows.append((pk, scratch.pk, person.external_id, person.dn, person.name[:300], person.status,
                          person.content_hash, person.source_hash, now, now))
        for a in person.addresses:
            if a.address in claimed:  # a conflict: the sync would not store it as an owned address either
                continue
            claimed.add(a.address)
            address_rows.append((scratch.pk, pk, a.address, a.display, a.kind, "f"))
    user_text, address_text = _copy_text(user_rows), _copy_text(address_rows)
    n_people, n_addresses = len(user_rows), len(address_rows)
    del people, user_rows, address_rows, claimed

    started = time.perf_counter()
    with transaction.atomic(), db.cursor() as cursor:  # the commit is part of what is measured
        cursor.copy_expert(
            f"COPY {users} (id, partner_id, external_id, dn, display_name, status, content_hash, source_hash, "
            "first_seen_at, changed_at) FROM STDIN", io.StringIO(user_text))
        users_done = time.perf_counter()
        cursor.copy_expert(
            f"COPY {addresses} (partner_id, directory_user_id, address, display_address, kind, in_conflict) "
            "FROM STDIN", io.StringIO(address_text))
        addresses_done = time.perf_counter()
    copy_s = time.perf_counter() - started
    # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: their checks run at the commit, so it gets its own
    # figure (the sync's batches pay the same per row).
    split = {"users": users_done - started, "addresses": addresses_done - users_done,
             "commit": started + copy_s - addresses_done}
    peak = peak_mb()

    # Untimed: leave the tables as an empty account would find them (dead rows vacuumed away).
    with db.cursor() as cursor:
        cursor.execute(f"DELETE FROM {addresses} WHERE partner_id = %s", [scratch.pk])  # noqa: S608 - model tables
        cursor.execute(f"DELETE FROM {users} WHERE partner_id = %s", [scratch.pk])  # noqa: S608 - model tables
        cursor.execute(f"VACUUM ANALYZE {addresses}, {users}")
    return {
        "seconds": search_s + copy_s, "search_seconds": search_s, "copy_seconds": copy_s, "copy_split": split,
        "peak_mb": peak, "entries": n_people, "addresses": n_addresses, "skipped": skipped, "attributes": attributes,
    }


# --- the sync runs --------------------------------------------------------------------------------------------------


def _sync(*, full: bool) -> tuple[Result, Any]:
    from directory_sync.models import DirectoryConnection, SyncStatus
    from directory_sync.services.runs import directory_sync_run

    connection = DirectoryConnection.objects.get(partner__slug=BENCH_SLUG)
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    run = directory_sync_run(connection=connection, full=full)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    peak = peak_mb()
    if run.status != SyncStatus.SUCCEEDED:
        raise RuntimeError(f"the run ended {run.status}: {run.error}")
    connection.refresh_from_db()
    result = {
        "seconds": seconds, "peak_mb": peak, "entries": run.seen, "mode": run.mode,
        "cpu_seconds": cpu,
        "counts": {name: getattr(run, name) for name in (
            "pages_done", "seen", "created", "updated", "unchanged", "disabled", "removed", "skipped", "conflicts")},
        "high_water_mark": connection.high_water_mark,
    }
    return result, connection


def _stored_counts(partner_id: int) -> dict[str, Any]:
    from django.db.models import Count

    from directory_sync.models import DirectoryAddress, DirectoryUser

    people = dict(DirectoryUser.objects.filter(partner_id=partner_id).values_list("status").annotate(n=Count("id"))
                  .order_by())
    addresses = dict(DirectoryAddress.objects.filter(partner_id=partner_id).values_list("kind")
                     .annotate(n=Count("id")).order_by())
    return {
        "people": people,
        "addresses": addresses,
        "in_conflict": DirectoryAddress.objects.filter(partner_id=partner_id, in_conflict=True).count(),
    }


def phase_full(params: dict) -> Result:
    result, connection = _sync(full=True)
    result["stored"] = _stored_counts(connection.partner_id)  # checked against the generator by the orchestrator
    return result


def phase_resync(params: dict) -> Result:
    result, _ = _sync(full=True)
    return result


def phase_incremental(params: dict) -> Result:
    result, _ = _sync(full=False)
    return result


PHASES: dict[str, Callable[[dict], Result]] = {
    "setup": phase_setup,
    "floor": phase_floor,
    "full": phase_full,
    "resync": phase_resync,
    "incremental": phase_incremental,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON result")
    parser.add_argument("--params", default="{}", help="JSON parameters of the phase")
    args = parser.parse_args(argv)
    _django()
    result = PHASES[args.phase](json.loads(args.params))
    result["phase"] = args.phase
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
