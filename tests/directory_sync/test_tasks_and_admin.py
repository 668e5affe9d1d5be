"""Scheduling, the Celery task (with a real worker), and the admin's Sync now, CSV upload and run pages."""

import datetime
from types import SimpleNamespace

import pytest
import time_machine
from celery.exceptions import Retry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from directory_sync.errors import ABANDONED, DirectoryUnavailable
from directory_sync.models import DirectoryConnection, DirectoryUser, SourceKind, SyncMode, SyncRun, SyncStatus
from directory_sync.services.connections import directory_connection_configure
from directory_sync.services.lifecycle import sync_run_start
from directory_sync.tasks import _due, dispatch_due, run_sync
from tests.accounts.factories import AdminFactory
from tests.conftest import free_port, login_with_second_factor
from tests.directory_sync.factories import DirectoryConnectionFactory, SyncRunFactory
from tests.ldap_data import write_ad_people
from tests.ldap_server import start_with_people
from tests.partners.factories import PartnerFactory
from tests.services import wait_for


@pytest.fixture
def slapd(tmp_path):
    server, _ = start_with_people(tmp_path, write_ad_people, 30)
    yield server
    server.stop()


def ldap_connection(slapd):
    return directory_connection_configure(
        partner=PartnerFactory(), preset="active-directory", uri=slapd.uri, start_tls=False,
        bind_dn=slapd.service_dn, bind_password=slapd.service_password, base_dn=slapd.people_dn,
        user_filter="(objectClass=adLiteObject)",
    )


# -- scheduling -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_connection_never_synced_is_due_for_a_full_run():
    assert _due(DirectoryConnectionFactory(), timezone.now()) is True


@pytest.mark.django_db
def test_a_recent_full_run_leaves_only_incremental_runs_due():
    now = timezone.now()
    connection = DirectoryConnectionFactory(
        last_full_sync_at=now - datetime.timedelta(hours=1), last_sync_at=now - datetime.timedelta(minutes=20)
    )
    assert _due(connection, now) is False
    connection.last_sync_at = now - datetime.timedelta(minutes=5)
    assert _due(connection, now) is None


@pytest.mark.django_db
def test_dispatch_queues_due_connections_once_and_skips_busy_disabled_and_csv_ones(monkeypatch):
    queued = []
    monkeypatch.setattr(run_sync, "delay", lambda pk, full: queued.append((pk, full)))
    due = DirectoryConnectionFactory()
    busy = DirectoryConnectionFactory()
    SyncRunFactory(connection=busy)  # RUNNING
    DirectoryConnectionFactory(is_enabled=False)
    DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)

    assert dispatch_due() == [due.pk]
    assert queued == [(due.pk, True)]
    assert dispatch_due() == []  # already requested, not yet run: not queued twice


def test_the_sync_task_retries_an_unreachable_directory_with_backoff():
    assert run_sync.autoretry_for == (DirectoryUnavailable,)
    assert run_sync.retry_backoff and run_sync.max_retries == 5
    assert run_sync.soft_time_limit >= 3600


# -- a crashed sync never blocks the schedule ----------------------------------------------------

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def queued(monkeypatch, settings):
    """What the dispatcher queued, with the production figures: a beat every 30 s, stale after three missed."""
    settings.SYNC_HEARTBEAT_SECONDS, settings.SYNC_STALE_BEATS = 30, 3
    calls = []
    monkeypatch.setattr(run_sync, "delay", lambda pk, full: calls.append(pk))
    return calls


def dispatch_at(moment: datetime.datetime) -> list[int]:
    with time_machine.travel(moment, tick=False):
        return dispatch_due()


@pytest.mark.django_db
def test_dispatch_abandons_a_stale_run_and_queues_its_connection_at_the_same_dispatch(queued):
    connection = DirectoryConnectionFactory()
    start = timezone.now()
    assert dispatch_at(start) == [connection.pk]
    with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
        run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    # The worker dies right after its run started. Still alive as far as anyone can tell: busy.
    assert dispatch_at(run.heartbeat_at + datetime.timedelta(seconds=89)) == []
    assert SyncRun.objects.get(pk=run.pk).status == SyncStatus.RUNNING
    assert dispatch_at(run.heartbeat_at + datetime.timedelta(seconds=91)) == [connection.pk]
    run.refresh_from_db()
    assert (run.status, run.error) == (SyncStatus.FAILED, ABANDONED)
    assert queued == [connection.pk, connection.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("beat_phase", [0, 20, 45, 59])
def test_the_next_scheduled_run_is_queued_within_three_minutes_of_a_worker_death(queued, beat_phase):
    connection = DirectoryConnectionFactory()
    queued_at = timezone.now()
    dispatch_at(queued_at)
    with time_machine.travel(queued_at + datetime.timedelta(seconds=1), tick=False):
        run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    death = run.heartbeat_at  # the worst case: it dies just after a heartbeat
    beat = death + datetime.timedelta(seconds=beat_phase)  # beat's minute is not aligned with the death
    while len(queued) < 2 and beat < death + 10 * MINUTE:
        dispatch_at(beat)
        beat += MINUTE
    requeued_at = beat - MINUTE
    assert len(queued) == 2, "the connection was never queued again"
    assert requeued_at - death <= 3 * MINUTE, f"queued again {requeued_at - death} after the worker died"
    assert requeued_at - death > datetime.timedelta(seconds=90), "taken as dead before it was stale"


@pytest.mark.django_db
def test_a_queued_run_holds_the_dispatcher_back_for_the_stale_time_only(queued):
    connection = DirectoryConnectionFactory()
    start = timezone.now()
    dispatch_at(start)
    assert dispatch_at(start + MINUTE) == [], "queued twice while the first may still wait in the queue"
    # Nothing started it within the stale time: lost (a killed worker's prefetched message, a broker loss).
    assert dispatch_at(start + datetime.timedelta(seconds=91)) == [connection.pk]


@pytest.mark.django_db
def test_a_run_that_succeeded_after_it_was_queued_frees_the_connection_for_its_schedule(queued):
    connection = DirectoryConnectionFactory(incremental_every_minutes=1)
    start = timezone.now()
    dispatch_at(start)
    DirectoryConnection.objects.filter(pk=connection.pk).update(
        last_sync_at=start + datetime.timedelta(seconds=10), last_full_sync_at=start + datetime.timedelta(seconds=10)
    )
    assert dispatch_at(start + datetime.timedelta(seconds=75)) == [connection.pk]  # the next incremental run


@pytest.mark.django_db
def test_a_retry_waiting_for_its_time_holds_the_dispatcher_back_until_a_stale_time_after_it_is_due(queued):
    connection = DirectoryConnectionFactory()
    start = timezone.now()
    dispatch_at(start)
    with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
        # What Celery calls when the task retries an unreachable directory in ten minutes.
        run_sync.on_retry(DirectoryUnavailable("down"), "task-id", (connection.pk,), {"full": True},
                          SimpleNamespace(exception=Retry(when=600)))
    connection.refresh_from_db()
    assert connection.sync_requested_at == start + datetime.timedelta(seconds=605)
    assert dispatch_at(start + 5 * MINUTE) == []
    assert dispatch_at(start + datetime.timedelta(seconds=605 + 89)) == []
    assert dispatch_at(start + datetime.timedelta(seconds=605 + 91)) == [connection.pk]


def test_the_sync_task_gives_its_work_back_when_its_worker_dies():
    assert run_sync.acks_late and run_sync.reject_on_worker_lost


@pytest.mark.django_db
def test_a_redelivered_sync_task_finding_its_run_alive_skips(queued):
    connection = DirectoryConnectionFactory()
    live = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    assert run_sync.apply(args=(connection.pk,), kwargs={"full": True}).get() == {"skipped": "already running"}
    live.refresh_from_db()
    assert live.status == SyncStatus.RUNNING
    assert SyncRun.objects.filter(connection=connection).count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_sync_queued_through_redis_runs_in_a_real_worker(slapd, celery_worker_process):
    connection = ldap_connection(slapd)
    result = run_sync.delay(connection.pk, full=True)
    answer = result.get(timeout=60)
    run = SyncRun.objects.get(pk=answer["run"])
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 30)
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == 30


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retrying_an_unreachable_directory_holds_the_dispatcher_back_until_the_retry(
    celery_worker_process,
):
    connection = directory_connection_configure(
        partner=PartnerFactory(), preset="active-directory", uri=f"ldap://127.0.0.1:{free_port()}", start_tls=False,
        bind_dn="cn=nobody", bind_password="x", base_dn="dc=example,dc=test",
    )
    queued_at = timezone.now()
    DirectoryConnection.objects.filter(pk=connection.pk).update(sync_requested_at=queued_at)
    run_sync.delay(connection.pk, full=True)
    wait_for(lambda: DirectoryConnection.objects.get(pk=connection.pk).sync_requested_at != queued_at, timeout=30,
             what="the retry's due time on the connection")
    failed = SyncRun.objects.filter(connection=connection).earliest()
    due = DirectoryConnection.objects.get(pk=connection.pk).sync_requested_at
    # Stamped by the worker when it retried (after the failed attempt), for when the retry is due.
    assert failed.finished_at <= due <= timezone.now() + datetime.timedelta(seconds=run_sync.retry_backoff_max)


# -- admin ------------------------------------------------------------------------------------------

@pytest.fixture
def admin_client(client):
    login_with_second_factor(client, AdminFactory())
    return client


@pytest.mark.django_db
def test_sync_now_action_runs_a_sync_of_the_selected_connection(
    admin_client, slapd, django_capture_on_commit_callbacks
):
    connection = ldap_connection(slapd)
    with django_capture_on_commit_callbacks(execute=True):  # tasks run eagerly in unit tests
        response = admin_client.post(
            "/admin/directory_sync/directoryconnection/",
            {"action": "sync_now_full", "_selected_action": [connection.pk]}, follow=True,
        )
    assert "a full sync is queued" in response.content.decode()
    run = SyncRun.objects.get(connection=connection)
    assert (run.status, run.created, run.triggered_by.role) == (SyncStatus.SUCCEEDED, 30, "admin")


@pytest.mark.django_db
def test_sync_now_button_needs_post(admin_client):
    connection = DirectoryConnectionFactory()
    assert admin_client.get(f"/admin/directory_sync/directoryconnection/{connection.pk}/sync/").status_code == 405


@pytest.mark.django_db
def test_csv_upload_page_imports_a_file_and_shows_the_run(admin_client):
    connection = DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)
    upload = SimpleUploadedFile(
        "people.csv", b"name,primary,aliases,forwarding,enabled\nAnn,ann@example.test,a@example.test,,yes\n"
    )
    response = admin_client.post(
        f"/admin/directory_sync/directoryconnection/{connection.pk}/upload-csv/", {"file": upload}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith("/admin/directory_sync/syncrun/")
    assert "Import succeeded: seen 1, created 1" in response.content.decode()


@pytest.mark.django_db
def test_csv_upload_page_shows_bad_rows_and_writes_nothing(admin_client):
    connection = DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)
    upload = SimpleUploadedFile("people.csv", b"name,primary,aliases,forwarding,enabled\nAnn,not-mail,,,yes\n")
    response = admin_client.post(
        f"/admin/directory_sync/directoryconnection/{connection.pk}/upload-csv/", {"file": upload}
    )
    assert response.status_code == 200
    assert "row 2:" in response.content.decode()
    assert not DirectoryUser.objects.exists()


@pytest.mark.django_db
def test_a_running_run_page_shows_progress_and_keeps_it_up_to_date(admin_client):
    run = SyncRunFactory(pages_done=3, seen=3000)
    page = admin_client.get(f"/admin/directory_sync/syncrun/{run.pk}/change/").content.decode()
    # Updated in place by a script (a timed reload would throw a keyboard user back to the top of the page).
    assert 'http-equiv="refresh"' not in page and "js/sync-progress.js" in page
    assert 'id="sync-progress"' in page
    assert "3 pages done" in page and "3000 entries so far" in page
    run.status, run.finished_at = SyncStatus.SUCCEEDED, timezone.now()
    run.save()
    page = admin_client.get(f"/admin/directory_sync/syncrun/{run.pk}/change/").content.decode()
    assert "sync-progress" not in page


def test_the_task_is_registered_under_its_explicit_name():
    from portal.celery import app

    assert "directory_sync.run" in app.tasks
    assert "directory_sync.dispatch_due" in app.tasks


@pytest.mark.django_db
def test_beat_schedule_dispatches_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["directory-sync-dispatch"]
    assert (entry["task"], entry["schedule"]) == ("directory_sync.dispatch_due", 60.0)

