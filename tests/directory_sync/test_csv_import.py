"""CSV uploads: validated whole, written all or nothing, through the same engine as LDAP syncs."""

import pytest

from directory_sync.errors import CsvInvalid
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
    SyncRun,
    SyncStatus,
)
from directory_sync.services.runs import directory_csv_import
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
PEOPLE = [f"Person {i},Person{i}@Example.test,p{i}@example.test,person{i}@fwd.example,yes\n" for i in range(20)]


@pytest.fixture
def connection():
    return DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)


def upload(connection, rows, **kwargs):
    return directory_csv_import(connection=connection, data=(HEADER + "".join(rows)).encode(), **kwargs)


def test_a_valid_file_creates_people_with_primary_alias_and_forwarding_addresses(connection):
    run = upload(connection, PEOPLE)
    assert (run.status, run.created, run.seen) == (SyncStatus.SUCCEEDED, 20, 20)
    person = DirectoryUser.objects.get(partner=connection.partner, external_id="person3@example.test")
    assert {(a.address, a.kind) for a in person.addresses.all()} == {
        ("person3@example.test", AddressKind.PRIMARY),
        ("p3@example.test", AddressKind.ALIAS),
        ("person3@fwd.example", AddressKind.FORWARDING),
    }
    assert person.addresses.get(kind=AddressKind.PRIMARY).display_address == "Person3@Example.test"


def test_the_same_file_again_rewrites_nothing(connection):
    upload(connection, PEOPLE)
    before = dict(DirectoryUser.objects.values_list("external_id", "changed_at"))
    run = upload(connection, list(reversed(PEOPLE)))
    assert (run.created, run.updated, run.unchanged) == (0, 0, 20)
    assert dict(DirectoryUser.objects.values_list("external_id", "changed_at")) == before


def test_a_file_with_bad_rows_is_rejected_whole_with_row_numbers(connection):
    rows = [*PEOPLE[:3], "Broken,not-an-address,,,yes\n", PEOPLE[4], "Dup,Person0@example.test,,,maybe\n"]
    with pytest.raises(CsvInvalid) as caught:
        upload(connection, rows)
    assert [row for row, _ in caught.value.problems] == [5, 7]
    assert "not-an-address" in caught.value.problems[0][1]
    assert "enabled must be yes or no" in caught.value.problems[1][1]
    assert not DirectoryUser.objects.exists()
    assert not SyncRun.objects.exists()


def test_an_address_used_twice_in_a_file_names_both_rows(connection):
    rows = [PEOPLE[0], "Other,other@example.test,p0@example.test,,yes\n"]
    with pytest.raises(CsvInvalid, match=r"row 3: address p0@example\.test is already used in row 2"):
        upload(connection, rows)


def test_missing_columns_are_reported_on_the_header_row(connection):
    with pytest.raises(CsvInvalid, match=r"row 1: missing column\(s\): forwarding, enabled"):
        directory_csv_import(connection=connection, data=b"name,primary,aliases\nA,a@example.test,\n")


def test_people_missing_from_the_file_are_removed_and_their_addresses_freed(connection):
    upload(connection, PEOPLE)
    run = upload(connection, PEOPLE[:19])
    assert (run.status, run.removed) == (SyncStatus.SUCCEEDED, 1)
    gone = DirectoryUser.objects.get(external_id="person19@example.test")
    assert gone.status == DirectoryUserStatus.REMOVED
    assert not gone.addresses.exists()


def test_the_brake_refuses_a_file_that_removes_too_many_and_writes_nothing(connection):
    upload(connection, PEOPLE)
    newcomer = "Newcomer,newcomer@example.test,,,yes\n"
    run = upload(connection, [*PEOPLE[:10], newcomer])
    assert run.status == SyncStatus.REFUSED
    assert "would remove 10 and disable 0 of 20 people (50.0%)" in run.error
    assert DirectoryUser.objects.filter(status=DirectoryUserStatus.ACTIVE).count() == 20
    assert not DirectoryUser.objects.filter(external_id="newcomer@example.test").exists()


def test_force_overrides_the_brake(connection):
    upload(connection, PEOPLE)
    run = upload(connection, PEOPLE[:10], force=True)
    assert (run.status, run.removed, run.forced) == (SyncStatus.SUCCEEDED, 10, True)


def test_disabling_counts_towards_the_brake_and_is_applied_below_it(connection):
    upload(connection, PEOPLE)
    rows = [*PEOPLE[1:], PEOPLE[0].replace(",yes", ",no")]
    run = upload(connection, rows)
    assert (run.status, run.disabled, run.updated) == (SyncStatus.SUCCEEDED, 1, 0)
    person = DirectoryUser.objects.get(external_id="person0@example.test")
    assert person.status == DirectoryUserStatus.DISABLED
    assert person.addresses.count() == 3  # a disabled person keeps their addresses, but is not valid


def test_a_dry_run_reports_and_writes_nothing(connection):
    upload(connection, PEOPLE)
    run = upload(connection, [*PEOPLE[1:], "New,new@example.test,,,yes\n"], dry_run=True)
    assert (run.status, run.dry_run, run.created, run.removed) == (SyncStatus.SUCCEEDED, True, 1, 1)
    assert not DirectoryUser.objects.filter(external_id="new@example.test").exists()
    assert DirectoryUser.objects.get(external_id="person0@example.test").status == DirectoryUserStatus.ACTIVE


def test_a_person_who_returns_after_removal_is_active_again(connection):
    upload(connection, PEOPLE)
    upload(connection, PEOPLE[1:])
    run = upload(connection, PEOPLE)
    assert run.updated == 1
    person = DirectoryUser.objects.get(external_id="person0@example.test")
    assert person.status == DirectoryUserStatus.ACTIVE
    assert DirectoryAddress.objects.filter(directory_user=person).count() == 3
