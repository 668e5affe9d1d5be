"""Every database constraint of the directory models, and the bind password encrypted at rest."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import crypto
from directory_sync.admin import DirectoryConnectionForm
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    SourceKind,
    SyncRun,
    SyncStatus,
)
from tests.directory_sync.factories import (
    DirectoryAddressFactory,
    DirectoryConnectionFactory,
    DirectoryUserFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db


def _refused(constraint: str):
    """Expect the database to refuse a write on `constraint`, leaving the test's transaction usable."""
    return pytest.raises(IntegrityError, match=constraint)


# --- Connections ---------------------------------------------------------------------------------------------------


def test_ldap_connection_without_uri_is_refused():
    with _refused("directory_ldap_needs_uri_and_base"), transaction.atomic():
        DirectoryConnectionFactory(uri="")

    assert not DirectoryConnection.objects.exists()


def test_ldap_connection_without_base_dn_is_refused():
    with _refused("directory_ldap_needs_uri_and_base"), transaction.atomic():
        DirectoryConnectionFactory(base_dn="")


def test_csv_connection_needs_neither_uri_nor_base_dn():
    connection_ = DirectoryConnectionFactory(kind=SourceKind.CSV, uri="", base_dn="", bind_dn="", bind_password="")

    assert DirectoryConnection.objects.get(pk=connection_.pk).kind == SourceKind.CSV


@pytest.mark.parametrize("page_size", [0, 10_001])
def test_page_size_outside_range_is_refused(page_size):
    with _refused("directory_page_size_range"), transaction.atomic():
        DirectoryConnectionFactory(page_size=page_size)


@pytest.mark.parametrize("page_size", [1, 10_000])
def test_page_size_at_range_bounds_is_stored(page_size):
    assert DirectoryConnectionFactory(page_size=page_size).page_size == page_size


def test_removal_brake_above_hundred_percent_is_refused():
    with _refused("directory_brake_is_a_percentage"), transaction.atomic():
        DirectoryConnectionFactory(removal_brake_percent=101)


def test_removal_brake_of_hundred_percent_is_stored():
    assert DirectoryConnectionFactory(removal_brake_percent=100).removal_brake_percent == 100


# --- People and addresses ------------------------------------------------------------------------------------------


def test_directory_user_stable_id_is_unique_per_partner():
    person = DirectoryUserFactory(external_id="0d6c1f2e-guid")

    with _refused("directory_user_unique_stable_id"), transaction.atomic():
        DirectoryUserFactory(partner=person.partner, external_id="0d6c1f2e-guid")

    assert DirectoryUser.objects.filter(external_id="0d6c1f2e-guid").count() == 1


def test_same_stable_id_on_another_partner_is_fine():
    DirectoryUserFactory(external_id="0d6c1f2e-guid")
    DirectoryUserFactory(external_id="0d6c1f2e-guid")

    assert DirectoryUser.objects.filter(external_id="0d6c1f2e-guid").count() == 2


def test_second_primary_address_of_a_person_is_refused():
    primary = DirectoryAddressFactory(kind=AddressKind.PRIMARY)

    with _refused("directory_user_one_primary_address"), transaction.atomic():
        DirectoryAddressFactory(directory_user=primary.directory_user, kind=AddressKind.PRIMARY)

    assert primary.directory_user.addresses.count() == 1


@pytest.mark.parametrize("kind", [AddressKind.ALIAS, AddressKind.FORWARDING])
def test_person_may_have_more_addresses_besides_the_primary(kind):
    primary = DirectoryAddressFactory(kind=AddressKind.PRIMARY)
    DirectoryAddressFactory(directory_user=primary.directory_user, kind=kind)
    DirectoryAddressFactory(directory_user=primary.directory_user, kind=kind)

    assert primary.directory_user.addresses.count() == 3


def test_address_is_unique_per_account():
    first = DirectoryAddressFactory(display_address="jane@partner.example")
    colleague = DirectoryUserFactory(partner=first.partner)

    with _refused("directory_address_unique_per_account"), transaction.atomic():
        DirectoryAddressFactory(
            directory_user=colleague, display_address="Jane@Partner.example", kind=AddressKind.ALIAS
        )

    assert DirectoryAddress.objects.filter(address="jane@partner.example").count() == 1


def test_conflicting_claims_may_coexist_only_when_marked_in_conflict():
    first = DirectoryAddressFactory(display_address="shared@partner.example", in_conflict=True)
    colleague = DirectoryUserFactory(partner=first.partner)

    DirectoryAddressFactory(directory_user=colleague, display_address="shared@partner.example", in_conflict=True)

    assert DirectoryAddress.objects.filter(address="shared@partner.example", in_conflict=True).count() == 2


def test_a_person_claims_an_address_once():
    first = DirectoryAddressFactory(display_address="jane@partner.example", kind=AddressKind.PRIMARY)

    with _refused("directory_address_once_per_person"), transaction.atomic():
        DirectoryAddressFactory(
            directory_user=first.directory_user, display_address="jane@partner.example", kind=AddressKind.ALIAS,
            in_conflict=True,
        )


def test_same_address_on_another_partner_is_fine():
    DirectoryAddressFactory(display_address="jane@partner.example")
    DirectoryAddressFactory(display_address="jane@partner.example")

    assert DirectoryAddress.objects.filter(address="jane@partner.example").count() == 2


def test_address_must_be_normalised():
    with _refused("directory_address_normalised"), transaction.atomic():
        DirectoryAddressFactory(display_address="Jane@Partner.example", address="Jane@Partner.example")


def test_second_running_sync_of_a_connection_is_refused():
    first = SyncRunFactory()

    with _refused("sync_run_one_running_per_connection"), transaction.atomic():
        SyncRunFactory(connection=first.connection)

    assert first.connection.runs.count() == 1


def test_new_run_after_the_first_succeeded_is_fine():
    first = SyncRunFactory()
    first.status = SyncStatus.SUCCEEDED
    first.finished_at = first.started_at + datetime.timedelta(minutes=2)
    first.save()

    second = SyncRunFactory(connection=first.connection)

    assert second.status == SyncStatus.RUNNING
    assert first.connection.runs.count() == 2


def test_runs_of_two_connections_may_run_together():
    SyncRunFactory()
    SyncRunFactory()

    assert SyncRun.objects.filter(status=SyncStatus.RUNNING).count() == 2


def test_run_cannot_finish_before_it_started():
    started = timezone.now()

    with _refused("sync_run_finishes_after_start"), transaction.atomic():
        SyncRunFactory(
            status=SyncStatus.SUCCEEDED, started_at=started, finished_at=started - datetime.timedelta(seconds=1)
        )


@pytest.mark.parametrize("status", [SyncStatus.SUCCEEDED, SyncStatus.FAILED, SyncStatus.REFUSED])
def test_ended_run_needs_a_finish_time(status):
    with _refused("sync_run_ended_has_finish_time"), transaction.atomic():
        SyncRunFactory(status=status, finished_at=None)


def test_run_duration_is_known_once_finished():
    run = SyncRunFactory()
    assert run.duration is None

    run.finished_at = run.started_at + datetime.timedelta(seconds=90)
    assert run.duration == datetime.timedelta(seconds=90)


# --- The bind password ---------------------------------------------------------------------------------------------


def _raw_bind_password(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT bind_password FROM directory_sync_directoryconnection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_bind_password_is_encrypted_at_rest():
    conn = DirectoryConnectionFactory(bind_password="sync-secret")

    raw = _raw_bind_password(conn.pk)

    assert "sync-secret" not in raw
    assert crypto.decrypt(raw) == "sync-secret"


def test_bind_password_reads_back_as_plaintext():
    conn = DirectoryConnectionFactory(bind_password="sync-secret")

    assert DirectoryConnection.objects.get(pk=conn.pk).bind_password == "sync-secret"


def test_empty_bind_password_is_stored_empty():
    conn = DirectoryConnectionFactory(kind=SourceKind.CSV, bind_password="")

    assert _raw_bind_password(conn.pk) == ""


def test_each_save_encrypts_the_bind_password_afresh():
    conn = DirectoryConnectionFactory(bind_password="sync-secret")
    before = _raw_bind_password(conn.pk)

    conn.save()

    assert _raw_bind_password(conn.pk) != before


def test_bind_password_is_never_rendered_back_by_the_connection_form():
    conn = DirectoryConnectionFactory(bind_password="sync-secret")
    raw = _raw_bind_password(conn.pk)

    html = DirectoryConnectionForm(instance=DirectoryConnection.objects.get(pk=conn.pk)).as_p()

    assert "sync-secret" not in html
    assert raw not in html
    assert "A secret is stored" in html
