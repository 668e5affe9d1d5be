"""Drill: a Celery worker killed (kill -9) in the middle of a directory sync, with real processes.

A prefork worker (concurrency 2, as deployed) syncs a real slapd. The drill freezes slapd mid-sync
(the run must keep beating through the slow page), kills the worker's whole process group, starts a
fresh worker and dispatches on beat's schedule from the kill on. Heartbeats come every second, a run
is stale after three missed (3 s) and the dispatcher runs every 2 s: production's 30 s, 90 s and one
minute, scaled. The dead run must be abandoned at the first dispatch after it went stale, the next run
queued by that same dispatch and succeed with every person, and the request held for recipient
validation re-checked once. Production promises the next run within three minutes of the death (twice
the stale time); the drill allows three times the stale time for the queueing, and one stale time for
a free worker to start the run. Its figures are printed (`pytest -s` or `-rP`).
"""

import datetime
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import kombu.pools
import pytest
from django.db import connections
from django.utils import timezone

from core.models import AuditEvent
from directory_sync.errors import ABANDONED
from directory_sync.models import DirectoryConnection, DirectoryUser, Preset, SyncRun, SyncStatus
from directory_sync.selectors import sync_run_counts
from directory_sync.services.connections import directory_connection_configure
from directory_sync.tasks import dispatch_due
from onboarding.models import ItemState, RequestItem
from onboarding.services.review import request_item_approve
from partners.models import PartnerKind
from portal.celery import app
from tests.ldap_data import ad_person_attrs, write_ad_people
from tests.ldap_server import start_with_people
from tests.onboarding.factories import RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.services import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 4000
PAGE_SIZE = 20  # many small pages: the run is easy to catch mid-way
HEARTBEAT_SECONDS, STALE_BEATS = 1, 3
STALE = HEARTBEAT_SECONDS * STALE_BEATS
DISPATCH_EVERY = 2  # beat's minute against the 90 s stale time, scaled to 3 s
RECHECK = "Task onboarding.recheck_held["  # one per sync_run_succeeded: onboarding's receiver queues it


@dataclass
class Worker:
    """A `celery worker` process group of its own (kill -9 takes the pool's children with it)."""

    name: str
    process: subprocess.Popen
    log: Path

    @classmethod
    def launch(cls, name: str, env: dict[str, str], directory: Path) -> "Worker":
        log = directory / f"worker-{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=prefork", "--concurrency=2",
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"drill-{name}-{os.getpid()}@%h"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return cls(name, process, log)

    @property
    def is_ready(self) -> bool:
        return " ready." in self.log.read_text()

    def wait_ready(self) -> "Worker":
        wait_for(lambda: self.is_ready, timeout=60, what=f"worker {self.name} (log: {self.log})",
                 alive=lambda: self.process.poll() is None)
        return self

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def received(self, task_prefix: str) -> int:
        return sum(task_prefix in line and "received" in line for line in self.log.read_text().splitlines())


def worker_env(redis_url: str) -> dict[str, str]:
    db = connections["default"].settings_dict  # NAME is the test database by now
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SYNC_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "SYNC_STALE_BEATS": str(STALE_BEATS),
        "PORTAL_URL": "http://testserver",
    }


@pytest.fixture
def slapd(tmp_path):
    server, _ = start_with_people(tmp_path, write_ad_people, PEOPLE)
    yield server
    server.stop()  # resumes a paused server first


@pytest.fixture
def workers(redis_url, tmp_path, settings):
    """Start workers with `workers(name)`; the test process dispatches through them (not eagerly)."""
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_STALE_BEATS = HEARTBEAT_SECONDS, STALE_BEATS  # for the selector
    env, started = worker_env(redis_url), []

    def launch(name: str) -> Worker:
        started.append(Worker.launch(name, env, tmp_path))
        return started[-1]

    # Publish through fresh connections: a test before may have pointed the app at another broker and
    # closed kombu's shared pools. (Celery drops its cached pools the same way after a fork.)
    kombu.pools.reset()
    app._pool, app.amqp._producer_pool = None, None
    app.conf.task_always_eager = False
    try:
        yield launch
    finally:
        app.conf.task_always_eager = True
        for worker in started:
            worker.stop()


def held_request(partner) -> RequestItem:
    """A request for an enabled person of the directory, approved before any sync: held for validation."""
    enabled = (attrs for _, attrs in map(ad_person_attrs, range(1, PEOPLE + 1))
               if attrs["userAccountControl"] == ["512"])
    item = RequestItemFactory(request__partner=partner, name="Held Person", display_email=next(enabled)["mail"][0])
    request_item_approve(item=item, actor=partner.account_manager)
    item.refresh_from_db()
    assert item.state == ItemState.AWAITING_VALIDATION
    return item


def dispatch_on_worker() -> list[int]:
    """What beat does every minute: the dispatcher, run by a worker."""
    return dispatch_due.delay().get(timeout=30)


@dataclass
class Tick:
    """One dispatch after the kill: when it began, what the operators' selector said then, what it queued."""

    at: datetime.datetime
    counts: dict[str, int]
    queued: list[int]


def freeze_mid_sync(slapd, connection) -> SyncRun:
    """Wait for the run's third page, then freeze slapd: every page from now on is slower than the stale time."""
    wait_for(lambda: SyncRun.objects.filter(connection=connection, pages_done__gte=3).exists(), timeout=30,
             what="the run's third page", interval=0.01)
    slapd.pause()
    time.sleep(0.5)  # the pages already on their way (socket buffers, the reader's queue) are taken
    run = SyncRun.objects.get(connection=connection)
    assert run.status == SyncStatus.RUNNING, f"the run ended before slapd froze ({run.status}): add people"
    return run


def dispatch_until_queued(worker: "Worker", killed_at: datetime.datetime) -> tuple[list[Tick], datetime.datetime]:
    """Beat's schedule, scaled, from the kill on (the dispatcher runs here while the fresh worker starts);
    returns the dispatches and when the worker was ready."""
    ticks, ready_at, deadline = [], None, killed_at + datetime.timedelta(seconds=10 * STALE)
    while not (ticks and ticks[-1].queued) and timezone.now() < deadline:
        now = timezone.now()
        if not ticks or now >= ticks[-1].at + datetime.timedelta(seconds=DISPATCH_EVERY):
            ticks.append(Tick(now, sync_run_counts(now=now), dispatch_due()))
        if ready_at is None and worker.is_ready:
            ready_at = timezone.now()
        time.sleep(0.05)
    if ready_at is None:
        worker.wait_ready()
        ready_at = timezone.now()
    return ticks, ready_at


def drill_connection(slapd) -> DirectoryConnection:
    """An MSP with an agreement (its requests wait for recipient validation), syncing from `slapd`."""
    partner = PartnerFactory(name="Drill MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    return directory_connection_configure(
        partner=partner, preset=Preset.ACTIVE_DIRECTORY, uri=slapd.uri, start_tls=False, bind_dn=slapd.service_dn,
        bind_password=slapd.service_password, base_dn=slapd.people_dn, user_filter="(objectClass=adLiteObject)",
        page_size=PAGE_SIZE,
    )


def figures(dead: SyncRun, run: SyncRun, killed_at: datetime.datetime, ready_at: datetime.datetime) -> str:
    """The drill's figures in one line, times counted from the kill."""
    def seconds(delta: datetime.timedelta) -> str:
        return f"{delta.total_seconds():.1f} s"

    return (
        f"killed at page {dead.pages_done} of {PEOPLE // PAGE_SIZE}; stale after {STALE} s, a dispatch every "
        f"{DISPATCH_EVERY} s, the fresh worker up after {seconds(ready_at - killed_at)}. From the kill: abandoned "
        f"{seconds(dead.finished_at - killed_at)} ({seconds(dead.finished_at - dead.heartbeat_at)} after its last "
        f"heartbeat) and the next run queued by the same dispatch, next run started "
        f"{seconds(run.started_at - killed_at)}, succeeded {seconds(run.finished_at - killed_at)}"
    )


def test_a_sync_whose_worker_is_killed_midway_is_abandoned_and_the_next_run_catches_up(slapd, workers):
    connection = drill_connection(slapd)
    item = held_request(connection.partner)
    first = workers("A").wait_ready()
    assert dispatch_on_worker() == [connection.pk]
    frozen = freeze_mid_sync(slapd, connection)
    time.sleep(STALE + HEARTBEAT_SECONDS)
    assert dispatch_on_worker() == [], "a run waiting on a slow page was taken as dead"
    alive = SyncRun.objects.get(pk=frozen.pk)
    assert (alive.status, alive.pages_done) == (SyncStatus.RUNNING, frozen.pages_done)
    assert alive.heartbeat_at >= frozen.heartbeat_at + datetime.timedelta(seconds=STALE), "no beats on a slow page"

    first.kill()  # kill -9 of the worker's process group, mid-run
    killed_at = timezone.now()
    slapd.resume()
    second = workers("B")
    ticks, ready_at = dispatch_until_queued(second, killed_at)
    dead = SyncRun.objects.get(pk=frozen.pk)
    stale_at = dead.heartbeat_at + datetime.timedelta(seconds=STALE)  # its last sign of life, plus the stale time
    assert (dead.status, dead.error) == (SyncStatus.FAILED, ABANDONED)
    assert ticks[-1].queued == [connection.pk], f"never queued again: {ticks}"
    assert ticks[-1].at <= dead.finished_at and dead.finished_at >= stale_at, "abandoned early, or not by the dispatch"
    assert all(tick.at < stale_at for tick in ticks[:-1]), f"a dispatch after it went stale queued nothing: {ticks}"
    assert [tick.counts["stale"] for tick in ticks] == [int(tick.at >= stale_at) for tick in ticks], ticks

    wait_for(lambda: SyncRun.objects.filter(connection=connection, status=SyncStatus.SUCCEEDED).exists(),
             timeout=120, what="the next run succeeding")
    run = SyncRun.objects.get(connection=connection, status=SyncStatus.SUCCEEDED)
    report = figures(dead, run, killed_at, ready_at)
    print(f"\nSync crash drill: {report}")
    assert ticks[-1].at - killed_at <= datetime.timedelta(seconds=3 * STALE), report
    assert run.started_at - max(ticks[-1].at, ready_at) <= datetime.timedelta(seconds=STALE), report
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == PEOPLE, report

    # The held request is re-checked after the successful run, once; the abandoned run announced nothing.
    wait_for(lambda: RequestItem.objects.get(pk=item.pk).state == ItemState.INVITED, timeout=30,
             what="the held request released by the re-check")
    assert (first.received(RECHECK), second.received(RECHECK)) == (0, 1), report
    audited = AuditEvent.objects.filter(target_type="directory_sync.syncrun").order_by("id")
    assert [(e.target_id, e.action) for e in audited] == [
        (str(dead.pk), "directory.sync.abandoned"), (str(run.pk), "directory.sync.succeeded")
    ]
