"""A run's life: stale detection, abandonment (audited, never announced), the heartbeat thread, the runs' health."""

import datetime
import threading
import time

import pytest
from django.db import connection as database
from django.utils import timezone

from core.models import AuditEvent
from directory_sync.errors import ABANDONED, SyncRunLost
from directory_sync.mapping import build_person
from directory_sync.models import SyncMode, SyncRun, SyncStatus
from directory_sync.selectors import sync_run_counts
from directory_sync.services.lifecycle import ABANDONED_ACTION, Heartbeat, sync_run_start, sync_runs_abandon
from directory_sync.services.sync import sync_apply
from directory_sync.signals import sync_run_succeeded
from tests.directory_sync.factories import DirectoryConnectionFactory, SyncRunFactory
from tests.services import wait_for

SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def connection(db):
    return DirectoryConnectionFactory()


@pytest.fixture
def beats(settings):
    """The production defaults, stated here so that the figures below read against them: 30 s x 3 = 90 s."""
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_STALE_BEATS = 30, 3
    return datetime.timedelta(seconds=90)


def start(connection) -> SyncRun:
    return sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)


def person(external_id: str):
    return build_person(external_id=external_id, dn=f"cn={external_id},dc=example,dc=test", name=external_id,
                        disabled=False, primary=f"{external_id}@example.test", aliases=[], forwarding=[])


@pytest.fixture
def heard():
    """The runs announced by sync_run_succeeded (what onboarding's re-check of held requests listens to)."""
    runs = []

    def listener(sender, run, **kwargs):
        runs.append(run.pk)

    sync_run_succeeded.connect(listener)
    yield runs
    sync_run_succeeded.disconnect(listener)


# -- stale detection and abandonment ----------------------------------------------------------------

def test_a_run_is_stale_only_after_the_configured_beats_without_a_heartbeat(connection, beats):
    run = start(connection)
    assert sync_runs_abandon(now=run.heartbeat_at + beats - SECOND) == []
    run.refresh_from_db()
    assert run.status == SyncStatus.RUNNING
    assert [r.pk for r in sync_runs_abandon(now=run.heartbeat_at + beats + SECOND)] == [run.pk]


def test_an_abandoned_run_fails_with_the_abandoned_message_and_is_audited(connection, beats):
    run = start(connection)
    later = run.heartbeat_at + beats + SECOND
    sync_runs_abandon(now=later)
    run.refresh_from_db()
    assert (run.status, run.error, run.finished_at) == (SyncStatus.FAILED, ABANDONED, later)
    event = AuditEvent.objects.get(target_type="directory_sync.syncrun", target_id=str(run.pk))
    assert (event.action, event.partner_id, event.actor_id) == (ABANDONED_ACTION, connection.partner_id, None)
    assert event.data["heartbeat_at"] == run.heartbeat_at.isoformat()


def test_abandoning_leaves_live_runs_and_other_connections_alone(connection, beats):
    dead, other_dead = start(connection), start(DirectoryConnectionFactory())
    later = dead.heartbeat_at + beats + SECOND
    live = SyncRunFactory(heartbeat_at=later - SECOND)
    assert [r.pk for r in sync_runs_abandon(now=later, connection=connection)] == [dead.pk]
    assert {r.pk for r in SyncRun.objects.running()} == {other_dead.pk, live.pk}
    assert [r.pk for r in sync_runs_abandon(now=later)] == [other_dead.pk]
    assert [r.pk for r in SyncRun.objects.running()] == [live.pk]


def test_a_run_that_never_wrote_a_heartbeat_counts_from_its_start(connection, beats):
    run = SyncRunFactory(connection=connection, heartbeat_at=None)
    assert sync_runs_abandon(now=run.started_at + beats - SECOND) == []
    assert [r.pk for r in sync_runs_abandon(now=run.started_at + beats + SECOND)] == [run.pk]


def test_a_stale_run_gives_way_to_the_next_run_of_its_connection(connection, beats):
    stale = start(connection)
    SyncRun.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - beats - SECOND)
    fresh = start(connection)
    stale.refresh_from_db()
    assert (stale.status, stale.error, fresh.status) == (SyncStatus.FAILED, ABANDONED, SyncStatus.RUNNING)
    assert AuditEvent.objects.filter(action=ABANDONED_ACTION, target_id=str(stale.pk)).count() == 1


def test_an_abandoned_run_is_never_announced_and_the_next_successful_run_is(
    connection, beats, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dead = start(connection)
        sync_runs_abandon(now=dead.heartbeat_at + beats + SECOND)
    assert heard == []
    with django_capture_on_commit_callbacks(execute=True):
        run = sync_apply(run=start(connection), pages=[[person("ann")]], mapper=lambda p: p, full=True, force=False,
                         brake_percent=10)
    assert run.status == SyncStatus.SUCCEEDED
    assert heard == [run.pk]


def test_a_run_taken_as_abandoned_while_alive_stops_at_its_next_page(connection, beats):
    run = start(connection)

    def pages():
        yield [person("ann")]
        sync_runs_abandon(now=run.heartbeat_at + beats + SECOND)  # a stall longer than the stale time
        yield [person("bob")]

    with pytest.raises(SyncRunLost):
        sync_apply(run=run, pages=pages(), mapper=lambda p: p, full=True, force=False, brake_percent=10)
    run.refresh_from_db()
    assert (run.status, run.error, run.pages_done) == (SyncStatus.FAILED, ABANDONED, 1)


# -- the runs' health, for operators -------------------------------------------------------------------

def test_operators_see_how_many_runs_are_running_and_how_many_of_them_are_stale(
    connection, beats, django_assert_num_queries
):
    now = timezone.now()
    SyncRunFactory(heartbeat_at=now - beats - SECOND)
    SyncRunFactory(heartbeat_at=now)
    SyncRunFactory(status=SyncStatus.SUCCEEDED, started_at=now - beats * 10, heartbeat_at=now - beats * 10,
                   finished_at=now)
    with django_assert_num_queries(1):
        assert sync_run_counts(now=now) == {"running": 2, "stale": 1}
    assert sync_run_counts(now=now - beats) == {"running": 2, "stale": 0}


# -- the heartbeat thread (its own database connection: the rows must be committed) ------------------

def heartbeat_of(run: SyncRun) -> datetime.datetime:
    return SyncRun.objects.values_list("heartbeat_at", flat=True).get(pk=run.pk)


def backends() -> int:
    with database.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_running_then_stops_and_closes_its_connection():
    run = start(DirectoryConnectionFactory())
    first, before = run.heartbeat_at, backends()
    heartbeat = Heartbeat(run.pk, interval=0.05).start()
    wait_for(lambda: heartbeat.beats >= 3, timeout=10, what="three heartbeats")
    assert heartbeat_of(run) > first
    heartbeat.stop()
    assert not heartbeat.is_alive
    last = heartbeat_of(run)
    time.sleep(0.2)
    assert heartbeat_of(run) == last, "the thread beats on after stop()"
    wait_for(lambda: backends() <= before, timeout=10, what="the heartbeat's database connection closed")


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_stops_by_itself_once_its_run_has_ended():
    run = start(DirectoryConnectionFactory())
    heartbeat = Heartbeat(run.pk, interval=0.05).start()
    wait_for(lambda: heartbeat.beats >= 1, timeout=10, what="a heartbeat")
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED, finished_at=timezone.now())
    wait_for(lambda: not heartbeat.is_alive, timeout=10, what="the heartbeat thread ending")


@pytest.mark.django_db(transaction=True)
def test_a_page_slower_than_the_stale_time_does_not_make_a_run_look_dead(settings):
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_STALE_BEATS = 0.1, 5  # stale after 0.5 s
    run = start(DirectoryConnectionFactory())
    seen_mid_page = {}

    def pages():
        yield [person("ann")]
        time.sleep(1.2)  # one slow page: more than twice the stale time
        seen_mid_page.update(abandoned=sync_runs_abandon(), counts=sync_run_counts())
        yield [person("bob")]

    run = sync_apply(run=run, pages=pages(), mapper=lambda p: p, full=True, force=False, brake_percent=10)
    assert seen_mid_page == {"abandoned": [], "counts": {"running": 1, "stale": 0}}
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 2)
    assert not [t for t in threading.enumerate() if t.name == f"sync-heartbeat-{run.pk}"], "still beating"
