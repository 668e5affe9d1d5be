"""`make bench-sync`: the directory sync against its floor, on a throwaway slapd and PostgreSQL.

    python -m bench.sync_bench [--people N] [--seed S] [--profile] [--keep]

needs DATABASE_URL (a PostgreSQL server on which it may create and drop the database `portal_bench`;
`make bench-sync` takes it from scripts/test-services.sh) and runs from the repository root.

Set-up (not measured): a throwaway slapd loaded with N Active-Directory-shaped people
(tests/ldap_data.py: aliases, forwarding, ~5 % disabled), a fresh migrated `portal_bench` database, a
partner and its LDAP connection. Then each measured phase runs in its own child process
(bench/sync_phase.py), so its peak memory is its own:

  floor        a bare paged search of the same entries and attributes + a COPY of the same rows
  full         full sync into the empty account                      target ≤ 1.5 x floor
  resync       full sync again, nothing changed                      target ≤ 0.5 x floor
  incremental  incremental sync after 1 % of the entries changed     target ≤ 5 % of the full sync
  (every sync phase: peak RSS < 150 MB)

It prints a table (and Markdown lines for the README). A missed target is a result, not a failure: the
exit status is 0 unless something broke (a phase crashed, or the synced data is wrong). Everything it
started or created (slapd, the database, its temp directory) is removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import ldap

from bench.postgres import BenchError, admin_sql, database_urls, server_version
from tests.ldap_data import DEFAULT_DOMAIN, PeopleSummary, ad_person_attrs, write_ad_people
from tests.ldap_server import Slapd

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "portal_bench"
SETTINGS = "portal.settings.test"  # PostgreSQL; Celery made to queue, as in production (bench_redis_url)
# The Redis db the phases queue their tasks in (no worker takes them; emptied at the end). The web benchmark's is 5.
REDIS_DB = 6

FULL_TARGET = 1.5  # x floor
RESYNC_TARGET = 0.5  # x floor
INCREMENTAL_TARGET = 0.05  # x the full sync's time
MEMORY_TARGET_MB = 150
CHANGED_SHARE = 0.01


def log(message: str) -> None:
    print(f"bench-sync: {message}", file=sys.stderr, flush=True)


# --- Redis ----------------------------------------------------------------------------------------------------------


def bench_redis_url() -> str:
    """The benchmark's own db on the Redis that scripts/test-services.sh provides.

    A successful run is announced, and onboarding queues a re-check of the account's held requests.
    The test settings run tasks eagerly, in the sync's call: that put about 0.1 s of Celery's start-up
    and of onboarding's work into every measured phase (a third of an incremental run of 20,000). In
    production the task is queued for a worker, so the phases queue it too."""
    redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(redis._replace(path=f"/{REDIS_DB}"))


def empty_bench_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url).flushdb()  # the benchmark's own db only
    except Exception as exc:
        log(f"could not empty Redis db {REDIS_DB}: {exc}")


# --- PostgreSQL -----------------------------------------------------------------------------------------------------


# --- phases ---------------------------------------------------------------------------------------------------------


@dataclass
class Runner:
    """Starts phase children with the benchmark database in their environment."""

    env: dict[str, str]
    workdir: Path
    maintenance_url: str
    profile_dir: Path | None = None
    # 1-min load average before each phase: other work on the machine skews the timings, so it is reported.
    loads: dict[str, float] = field(default_factory=dict)
    can_checkpoint: bool = True

    def phase(self, name: str, params: dict | None = None, *, measured: bool = True) -> dict:
        out = self.workdir / f"{name}.json"
        argv = [sys.executable]
        if measured and self.profile_dir is not None:
            argv += ["-m", "cProfile", "-o", str(self.profile_dir / f"{name}.prof")]
        argv += ["-m", "bench.sync_phase", name, "--out", str(out), "--params", json.dumps(params or {})]
        if measured:
            self.checkpoint()
        load = os.getloadavg()[0]
        self.loads[name] = load
        log(f"phase {name} (1-min load average {load:.2f}) …")
        started = time.monotonic()
        result = subprocess.run(argv, cwd=ROOT, env=self.env, check=False)
        if result.returncode or not out.exists():
            raise BenchError(f"phase {name} failed (exit {result.returncode}); its output is above")
        data = json.loads(out.read_text())
        log(f"phase {name} done in {time.monotonic() - started:.1f} s (process), "
            f"measured {data.get('seconds', 0):.2f} s")
        return data

    def checkpoint(self) -> None:
        """Write out dirty buffers now, so that the set-up's or the previous phase's writes are not flushed
        during the next phase's clock. Needs superuser (or pg_checkpoint): without it, skipped."""
        import psycopg2

        try:
            admin_sql(self.maintenance_url, "CHECKPOINT")
        except psycopg2.Error as exc:
            if self.can_checkpoint:
                log(f"no CHECKPOINT between phases ({str(exc).strip()}): timings may be noisier")
            self.can_checkpoint = False


def change_entries(slapd: Slapd, summary: PeopleSummary, *, seed: int, share: float, marker: str) -> int:
    """Change `share` of the people as an AD admin would (display name or an alias) and, as AD would, give each
    a uSNChanged above `marker` (slapd does not maintain uSNChanged). Returns how many were changed."""
    if not marker.isdigit():
        raise BenchError(f"the full sync left no numeric uSNChanged marker ({marker!r})")
    count = max(1, round(summary.count * share))
    # Its own stream, so the picks depend on the seed only, not on anything drawn before.
    picks = sorted(random.Random(f"bench-sync-changes:{seed}").sample(range(summary.first, summary.last + 1), count))
    usn = int(marker)
    conn = slapd.connection()  # one root connection: slapd.modify() would bind anew for each entry
    try:
        for j, i in enumerate(picks, 1):
            dn, attrs = ad_person_attrs(i, seed=seed)
            if j % 2:
                mods = [(ldap.MOD_REPLACE, "displayName", [f"{attrs['displayName'][0]} (renamed)".encode()])]
            else:
                proxy = list(attrs["proxyAddresses"])
                first_alias = next(k for k, v in enumerate(proxy) if v.startswith("smtp:"))
                proxy[first_alias] = f"smtp:renamed.{i}@{DEFAULT_DOMAIN}"
                mods = [(ldap.MOD_REPLACE, "proxyAddresses", [v.encode() for v in proxy])]
            mods.append((ldap.MOD_REPLACE, "uSNChanged", [str(usn + j).encode()]))
            conn.modify_s(dn, mods)
    finally:
        conn.unbind_s()
    return count


def check_full(result: dict, summary: PeopleSummary) -> list[str]:
    """What is wrong with the account after the full sync, compared with what the generator wrote."""
    counts, stored = result["counts"], result["stored"]
    people, addresses = stored["people"], stored["addresses"]
    expected = {
        "seen": (counts["seen"], summary.count),
        "created": (counts["created"], summary.count),
        "skipped": (counts["skipped"], 0),
        "people stored": (sum(people.values()), summary.count),
        "disabled people": (people.get("disabled", 0), summary.disabled),
        "active people": (people.get("active", 0), summary.count - summary.disabled),
        "primary addresses": (addresses.get("primary", 0), summary.count),
        "primary + alias addresses": (addresses.get("primary", 0) + addresses.get("alias", 0), summary.addresses),
        "forwarding addresses": (addresses.get("forwarding", 0), summary.forwarding),
        "addresses in conflict": (stored["in_conflict"], 0),
    }
    return [f"{what}: {got} (expected {want})" for what, (got, want) in expected.items() if got != want]


def check_resync(result: dict, summary: PeopleSummary) -> list[str]:
    c = result["counts"]
    problems = [] if c["seen"] == summary.count else [f"seen {c['seen']} (expected {summary.count})"]
    if c["created"] or c["updated"] or c["removed"] or c["disabled"]:
        problems.append(f"wrote people although nothing changed: {c}")
    return problems


def check_incremental(result: dict, changed: int) -> list[str]:
    c, problems = result["counts"], []
    if result["mode"] != "incremental":
        problems.append(f"the run was {result['mode']}, not incremental")
    # The server returns uSNChanged >= the last marker: the changed people, plus the one(s) at the marker itself.
    if not changed <= c["seen"] <= changed + max(5, changed // 50):
        problems.append(f"saw {c['seen']} entries for {changed} changed")
    if c["updated"] != changed or c["created"]:
        problems.append(f"updated {c['updated']} and created {c['created']} for {changed} changed")
    return problems


# --- report ---------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    phase: str
    seconds: float
    entries: int
    peak_mb: float
    ratio: float | None  # x floor
    target: str
    ok: bool | None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else "PASS" if self.ok else "MISS"


def build_rows(floor: dict, full: dict, resync: dict, incremental: dict) -> list[Row]:
    f = floor["seconds"]

    def memory_ok(r: dict) -> bool:
        return r["peak_mb"] < MEMORY_TARGET_MB

    mem = f"< {MEMORY_TARGET_MB} MB"
    return [
        Row(f"(a) floor: search {floor['search_seconds']:.2f} s + COPY {floor['copy_seconds']:.2f} s", f,
            floor["entries"], floor["peak_mb"], 1.0, "", None),
        Row("(b) full sync, empty account", full["seconds"], full["entries"], full["peak_mb"], full["seconds"] / f,
            f"≤ {FULL_TARGET}x floor, {mem}", full["seconds"] <= FULL_TARGET * f and memory_ok(full)),
        Row("(c) full re-sync, nothing changed", resync["seconds"], resync["entries"], resync["peak_mb"],
            resync["seconds"] / f, f"≤ {RESYNC_TARGET}x floor, {mem}",
            resync["seconds"] <= RESYNC_TARGET * f and memory_ok(resync)),
        Row(f"(d) incremental, {incremental['changed']} changed "
            f"({100 * incremental['seconds'] / full['seconds']:.1f} % of (b))",
            incremental["seconds"], incremental["entries"], incremental["peak_mb"], incremental["seconds"] / f,
            f"≤ {INCREMENTAL_TARGET:.0%} of (b), {mem}",
            incremental["seconds"] <= INCREMENTAL_TARGET * full["seconds"] and memory_ok(incremental)),
    ]


def cpu_line(full: dict, resync: dict, incremental: dict) -> str:
    """The CPU time of each sync phase's process (all its threads): on a busy machine less noisy than wall times."""
    parts = [f"{name} {r['cpu_seconds']:.2f} s" for name, r in (("(b)", full), ("(c)", resync), ("(d)", incremental))]
    return "CPU time of the sync's process (reader, mapping and writer threads together): " + ", ".join(parts)


def text_table(rows: list[Row]) -> str:
    header = ("phase", "wall s", "entries/s", "peak MB", "x floor", "target", "")
    cells = [header] + [
        (r.phase, f"{r.seconds:.2f}", f"{r.entries / r.seconds:,.0f}" if r.seconds else "-", f"{r.peak_mb:.0f}",
         f"{r.ratio:.3f}" if r.ratio is not None else "", r.target, r.verdict)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    right = {1, 2, 3, 4}
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                      strict=True))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown(rows: list[Row], context: str) -> str:
    lines = [context, "", "| phase | wall s | entries/s | peak MB | x floor | target | |",
             "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        rate = f"{r.entries / r.seconds:,.0f}" if r.seconds else "-"
        lines.append(f"| {r.phase} | {r.seconds:.2f} | {rate} | {r.peak_mb:.0f} | {r.ratio:.3f} | {r.target} "
                     f"| {r.verdict} |")
    return "\n".join(lines)


def print_profiles(profile_dir: Path, phases: list[str], top: int = 30) -> None:
    for name in phases:
        path = profile_dir / f"{name}.prof"
        if not path.exists():
            continue
        print(f"\n=== profile of phase {name} ({path}), top {top} by cumulative time ===")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)


# --- main -----------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if not os.environ.get("DATABASE_URL"):
        raise BenchError('DATABASE_URL is not set: run `make bench-sync`, or eval "$(scripts/test-services.sh)" first')
    bench_url, maintenance_url = database_urls(os.environ["DATABASE_URL"], name=BENCH_DB)
    redis_url = bench_redis_url()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="sync-", dir=ROOT / "var" / "bench"))
    profile_dir = None
    if args.profile:
        profile_dir = ROOT / "var" / "bench" / f"profiles-{args.people}"
        profile_dir.mkdir(parents=True, exist_ok=True)
    slapd = Slapd(workdir / "slapd")
    database_created = False
    try:
        log(f"loading {args.people:,} AD-shaped people (seed {args.seed}) into a throwaway slapd in {workdir} …")
        started = time.monotonic()
        summary = slapd.start_streaming(lambda fh: write_ad_people(fh, n=args.people, seed=args.seed))
        log(f"slapd up on {slapd.uri} in {time.monotonic() - started:.1f} s: {summary}")

        log(f"creating and migrating the database {BENCH_DB} …")
        admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)',
                  f'CREATE DATABASE "{BENCH_DB}"')
        database_created = True
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": bench_url, "PYTHONPATH": str(ROOT),
               "REDIS_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "false"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        runner = Runner(env=env, workdir=workdir, maintenance_url=maintenance_url, profile_dir=profile_dir)
        runner.phase("setup", {"uri": slapd.uri, "bind_dn": slapd.service_dn, "bind_password": slapd.service_password,
                               "base_dn": slapd.people_dn}, measured=False)

        floor = runner.phase("floor")
        if floor["entries"] != summary.count:
            raise BenchError(f"the floor's search found {floor['entries']} people, the directory has {summary.count}")
        full = runner.phase("full")
        problems = check_full(full, summary)
        resync = runner.phase("resync")
        problems += check_resync(resync, summary)
        log(f"changing {CHANGED_SHARE:.0%} of the people in slapd (display name or an alias, and uSNChanged) …")
        changed = change_entries(slapd, summary, seed=args.seed, share=CHANGED_SHARE, marker=resync["high_water_mark"])
        incremental = runner.phase("incremental")
        incremental["changed"] = changed
        problems += check_incremental(incremental, changed)

        rows = build_rows(floor, full, resync, incremental)
        context = (f"N = {summary.count:,} AD-shaped people ({summary.addresses:,} primary + alias and "
                   f"{summary.forwarding:,} forwarding addresses, {summary.disabled:,} disabled), seed {args.seed}; "
                   f"PostgreSQL {server_version(maintenance_url)}, slapd (back-mdb) on loopback, "
                   f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
                   + "; 1-min load average before (a)-(d): "
                   + "/".join(f"{runner.loads[p]:.1f}" for p in ("floor", "full", "resync", "incremental"))
                   + ("; PROFILED (cProfile inflates the times)" if args.profile else ""))
        print()
        print(context)
        print()
        print(text_table(rows))
        split = floor["copy_split"]
        print(f"\nfloor: {floor['entries']:,} people and {floor['addresses']:,} addresses; COPY people "
              f"{split['users']:.2f} s, addresses {split['addresses']:.2f} s, commit (deferred foreign-key checks) "
              f"{split['commit']:.2f} s")
        print(f"full sync counts: {full['counts']}")
        print(f"re-sync counts: {resync['counts']}")
        print(f"incremental counts: {incremental['counts']}")
        print(cpu_line(full, resync, incremental))
        if summary.count < 100_000:
            print("\n(the targets are set for 100,000 people: at fewer, fixed costs weigh more and the verdicts are "
                  "only indicative)")
        print("\nFor the README:\n")
        print(markdown(rows, context))
        if profile_dir is not None:
            print_profiles(profile_dir, ["floor", "full", "resync", "incremental"])
        if problems:
            raise BenchError("the synced data is wrong:\n  " + "\n  ".join(problems))
        return 0
    finally:
        # Each step on its own: a failing one must neither hide the original error nor skip the others.
        empty_bench_redis(redis_url)
        try:
            if args.keep:
                slapd.stop()
            else:
                slapd.remove()
        except Exception as exc:
            log(f"could not stop slapd (pid {slapd.pid}): {exc}")
        if args.keep:
            log(f"kept the database {BENCH_DB} and {workdir} (slapd's config and data)")
        else:
            if database_created:
                try:
                    admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
                except Exception as exc:
                    log(f"could not drop the database {BENCH_DB}: {exc}")
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", "-n", type=int, default=100_000, help="people in the directory (100,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--profile", action="store_true",
                        help="run the measured phases under cProfile (times inflate); profiles in var/bench/")
    parser.add_argument("--keep", action="store_true", help="leave the database and the temp dir (slapd's data) behind")
    args = parser.parse_args(argv)
    if args.people < 100:
        parser.error("--people must be at least 100 (1 % of them change)")
    try:
        return run(args)
    except (BenchError, subprocess.CalledProcessError) as exc:
        log(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
