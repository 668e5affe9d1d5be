"""`make bench-web`: the portal's pages, bulk actions, sign-in and throughput on a full-size data set in PostgreSQL.

    python -m bench.web_bench [--scale 1] [--seed 1] [--runs 5] [--load-seconds 20] [--keep]

needs DATABASE_URL (a PostgreSQL server on which it may create and drop the database `portal_webbench`) and
REDIS_URL (its db 5 takes the tasks the actions queue; nothing consumes them, and it is emptied at the end);
`make bench-web` takes both from scripts/test-services.sh. Runs from the repository root.

  1. a fresh migrated database; the data set (bench/web_data.py) at 1/10 of --scale, set-wise (COPY)
  2. every page for every role (bench/web_pages.py): queries and median server time, in-process
  3. the data set grown to --scale; the pages again
  4. gunicorn (4 workers) on a free loopback port with the same settings and data; the load generator
     (bench/web_load.py) against a trivial view (the ceiling), then the browsing mix
  5. the bulk actions (bench/web_actions.py), last as they add to the big MSP: check, submit (form and CSV) and
     approve 1,000-person lists, recipient lookups, a 50,000-person directory CSV import; the password step of
     sign-in and the hash alone

It prints one table (and Markdown for the README) with PASS/MISS per target at full size. A missed target is a
result: the exit status is 0 unless something broke (an HTTP error, an action that did not do its work).
The database, gunicorn and the temp directory are removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.postgres import BenchError, admin_sql, database_urls, server_version

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "portal_webbench"
SETTINGS = "bench.web_settings"
REDIS_DB = 5
WORKERS = 4
USERS = 50


def log(message: str) -> None:
    print(f"bench-web: {message}", file=sys.stderr, flush=True)


# --- PostgreSQL and the environment ---------------------------------------------------------------------------


def bench_environment(bench_url: str, workdir: Path) -> dict[str, str]:
    """Production settings' required environment, pointing at the benchmark's database and Redis db."""
    from cryptography.fernet import Fernet

    redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": bench_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CELERY_BROKER_URL": urlunsplit(redis._replace(path=f"/{REDIS_DB}")),
        "EMAIL_URL": "consolemail://",  # no worker runs: mail stays in the outbox
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "TRUST_X_FORWARDED_PROTO": "true",  # as behind the TLS proxy: clients send X-Forwarded-Proto: https
        "VENDOR_EMAIL_DOMAINS": "vendor.example",
        "PORTAL_VAR_DIR": str(workdir),
        "STATIC_ROOT": str(workdir / "static"),  # whitenoise wants the folder; nothing is collected into it
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def bench_environment_names() -> list[str]:
    return list(bench_environment("postgres:///", Path()).keys())


def vacuum_analyze(bench_url: str) -> float:
    """Fresh statistics and visibility maps after the bulk load, as autovacuum would leave them."""
    started = time.monotonic()
    admin_sql(bench_url, "VACUUM ANALYZE")
    return time.monotonic() - started


# --- gunicorn and the load test ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    argv = [str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(WORKERS), "--error-logfile", str(workdir / "gunicorn.log"),
            "--control-socket", str(workdir / "gunicorn.ctl")]
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited ({process.returncode}); see {workdir / 'gunicorn.log'}")
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/bench/trivial",
                                             headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return process, port
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise BenchError("gunicorn did not answer within 60 s")


def stop_gunicorn(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load(port: int, plan: list[dict], workdir: Path, *, seconds: float, name: str) -> dict:
    path = workdir / f"plan-{name}.json"
    path.write_text(json.dumps(plan))
    log(f"load: {name}, {USERS} users for {seconds:.0f} s (1-min load average {os.getloadavg()[0]:.2f}) …")
    result = subprocess.run(
        [sys.executable, "-m", "bench.web_load", "--port", str(port), "--plan", str(path), "--users", str(USERS),
         "--seconds", str(seconds)], cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if result.returncode:
        raise BenchError(f"the load generator failed: {result.stderr.strip()[-2000:]}")
    data = json.loads(result.stdout)
    log(f"load: {name}: {data['rps']:.0f} req/s, p95 {data['p95_ms']:.0f} ms, {data['errors']} errors; "
        "median per path: " + ", ".join(f"{p} {ms:.0f} ms" for p, ms in data["p50_ms_by_path"].items()))
    return data


# --- main -----------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if not os.environ.get("DATABASE_URL"):
        raise BenchError('DATABASE_URL is not set: run `make bench-web`, or eval "$(scripts/test-services.sh)" first')
    bench_url, maintenance_url = database_urls(os.environ["DATABASE_URL"], name=BENCH_DB)
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="web-", dir=ROOT / "var" / "bench"))
    env = bench_environment(bench_url, workdir)
    (workdir / "static").mkdir()
    os.environ.update(env)
    database_created, gunicorn = False, None
    try:
        log(f"creating the database {BENCH_DB} …")
        admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)',
                  f'CREATE DATABASE "{BENCH_DB}"')
        database_created = True
        import django

        django.setup()  # with the environment above: production settings on the benchmark's database
        from bench import web_phases, web_report

        measured, data_set = web_phases.pages(args, analyze=lambda: vacuum_analyze(bench_url), log=log)
        log(f"starting gunicorn ({WORKERS} workers) …")
        gunicorn, port = start_gunicorn(env, workdir)
        loads = {"load_before": os.getloadavg()[0]}
        loads["trivial"] = load(port, web_phases.trivial_plan(), workdir, seconds=args.load_seconds, name="trivial")
        loads["mix"] = load(port, measured.mix_plan, workdir, seconds=args.load_seconds, name="browsing mix")
        stop_gunicorn(gunicorn)
        gunicorn = None
        web_phases.actions(args, data_set, measured, log=log)
        version = server_version(maintenance_url)
        context = (f"scale {args.scale:g} of issue 11's data set, seed {args.seed}; PostgreSQL {version}, "
                   f"{os.cpu_count()} CPUs, Python {platform.python_version()}; gunicorn {WORKERS} sync workers, "
                   f"{USERS} users; 1-min load average before pages (1/10, full), load test and actions: "
                   f"{measured.loads[0]:.1f}/{measured.loads[1]:.1f}/{loads['load_before']:.1f}/"
                   f"{measured.loads[2]:.1f}")
        problems = web_report.report(measured, loads, context=context, scale=args.scale)
        if problems or measured.problems:
            raise BenchError("something went wrong:\n  " + "\n  ".join(measured.problems + problems))
        return 0
    finally:
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        cleanup(args, database_created, maintenance_url, workdir)


def cleanup(args: argparse.Namespace, database_created: bool, maintenance_url: str, workdir: Path) -> None:
    # Each step on its own: a failing one must neither hide the original error nor skip the others.
    try:
        from django.db import connections

        connections.close_all()
    except Exception as exc:
        log(f"could not close the database connections: {exc}")
    try:
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()  # the benchmark's own db only
    except Exception as exc:
        log(f"could not empty Redis db {REDIS_DB}: {exc}")
    if args.keep:
        # The secrets too: the kept sessions and encrypted fields are readable only with them.
        names = bench_environment_names()
        (workdir / "env.json").write_text(json.dumps({k: os.environ[k] for k in names}))
        log(f"kept the database {BENCH_DB} and {workdir} (env.json: the environment to run the portal on it)")
        return
    if database_created:
        try:
            admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        except Exception as exc:
            log(f"could not drop the database {BENCH_DB}: {exc}")
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the full size's share of the issue's (1)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--runs", type=int, default=5, help="timed GETs per page after the counted one (5)")
    parser.add_argument("--load-seconds", type=float, default=20, help="seconds per load scenario (20)")
    parser.add_argument("--keep", action="store_true", help="leave the database and the temp dir behind")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    try:
        return run(args)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
