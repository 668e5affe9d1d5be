"""Scheduling, the Celery task (with a real worker), and the admin's Sync now, CSV upload and run pages."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from directory_sync.errors import DirectoryUnavailable
from directory_sync.models import DirectoryConnection, DirectoryUser, SourceKind, SyncRun, SyncStatus
from directory_sync.services.connections import directory_connection_configure
from directory_sync.tasks import _due, dispatch_due, run_sync
from tests.accounts.factories import AdminFactory
from tests.conftest import login_with_second_factor
from tests.directory_sync.factories import DirectoryConnectionFactory, SyncRunFactory
from tests.ldap_data import write_ad_people
from tests.ldap_server import start_with_people
from tests.partners.factories import PartnerFactory


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


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_sync_queued_through_redis_runs_in_a_real_worker(slapd, celery_worker_process):
    connection = ldap_connection(slapd)
    result = run_sync.delay(connection.pk, full=True)
    answer = result.get(timeout=60)
    run = SyncRun.objects.get(pk=answer["run"])
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 30)
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == 30


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
def test_a_running_run_page_shows_progress_and_refreshes_itself(admin_client):
    run = SyncRunFactory(pages_done=3, seen=3000)
    page = admin_client.get(f"/admin/directory_sync/syncrun/{run.pk}/change/").content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "3 pages done" in page and "3000 entries so far" in page
    run.status, run.finished_at = SyncStatus.SUCCEEDED, timezone.now()
    run.save()
    page = admin_client.get(f"/admin/directory_sync/syncrun/{run.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' not in page


def test_the_task_is_registered_under_its_explicit_name():
    from portal.celery import app

    assert "directory_sync.run" in app.tasks
    assert "directory_sync.dispatch_due" in app.tasks


@pytest.mark.django_db
def test_beat_schedule_dispatches_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["directory-sync-dispatch"]
    assert (entry["task"], entry["schedule"]) == ("directory_sync.dispatch_due", 60.0)

