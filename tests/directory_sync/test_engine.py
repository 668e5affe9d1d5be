"""The sync engine itself: conflicts, the lock, announcements and the recipient lookup."""

import datetime

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory_sync.errors import SyncAlreadyRunning, SyncRunLost
from directory_sync.mapping import build_person
from directory_sync.models import DirectoryAddress, DirectoryUser, SyncMode, SyncProblem, SyncRun, SyncStatus
from directory_sync.selectors import LookupKind, recipient_lookup
from directory_sync.services.lifecycle import sync_run_start
from directory_sync.services.sync import newer_marker, sync_apply
from directory_sync.signals import sync_run_succeeded
from tests.directory_sync.factories import DirectoryConnectionFactory

pytestmark = pytest.mark.django_db


def person(external_id, primary, *, aliases=(), forwarding=(), disabled=False, name=None):
    return build_person(
        external_id=external_id, dn=f"cn={external_id},ou=people,dc=example,dc=test", name=name or external_id,
        disabled=disabled, primary=primary, aliases=list(aliases), forwarding=list(forwarding),
    )


def apply(connection, people, *, full=True, force=False):
    run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=force)
    return sync_apply(run=run, pages=[people], mapper=lambda p: p, full=full, force=force, brake_percent=10)


@pytest.fixture
def connection():
    return DirectoryConnectionFactory()


def test_an_address_claimed_by_two_people_is_a_conflict_naming_both(connection):
    run = apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                             person("bob", "bob@example.test", aliases=["team@example.test"])])
    assert run.conflicts == 1
    problems = SyncProblem.objects.filter(run=run, kind="conflict")
    assert {p.external_id for p in problems} == {"ann", "bob"}
    assert all("team@example.test is also claimed by cn=" in p.reason for p in problems)
    answer = recipient_lookup(partner_id=connection.partner_id, address="Team@Example.test")
    assert answer.kind == LookupKind.CONFLICT
    assert {p.external_id for p in answer.claimants} == {"ann", "bob"}


def test_a_conflict_is_not_given_to_a_third_claimant(connection):
    apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                       person("bob", "bob@example.test", aliases=["team@example.test"])])
    apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                       person("bob", "bob@example.test", aliases=["team@example.test"]),
                       person("cat", "cat@example.test", aliases=["team@example.test"])], force=True)
    rows = DirectoryAddress.objects.filter(address="team@example.test")
    assert rows.count() == 3
    assert all(row.in_conflict for row in rows)


def test_a_conflict_resolves_when_one_claimant_lets_go(connection):
    apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                       person("bob", "bob@example.test", aliases=["team@example.test"])])
    run = apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                             person("bob", "bob@example.test")])
    assert run.conflicts == 0
    answer = recipient_lookup(partner_id=connection.partner_id, address="team@example.test")
    assert (answer.kind, answer.person.external_id, answer.primary_address) == (
        LookupKind.ALIAS, "ann", "ann@example.test"
    )


def test_a_new_person_claiming_an_address_someone_owns_makes_a_conflict_and_keeps_the_rest(connection):
    apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"])])
    run = apply(connection, [person("bob", "bob@example.test", aliases=["team@example.test", "b@example.test"]),
                             person("cat", "cat@example.test")], full=False)
    assert run.conflicts == 1
    rows = DirectoryAddress.objects.filter(partner=connection.partner)
    assert sorted(rows.filter(in_conflict=True).values_list("directory_user__external_id", flat=True)) == [
        "ann", "bob"
    ]
    assert set(rows.filter(in_conflict=False).values_list("address", flat=True)) == {
        "ann@example.test", "bob@example.test", "b@example.test", "cat@example.test"
    }
    assert recipient_lookup(partner_id=connection.partner_id, address="team@example.test").kind == LookupKind.CONFLICT


def test_a_new_person_claiming_an_address_in_conflict_joins_the_conflict(connection):
    apply(connection, [person("ann", "ann@example.test", aliases=["team@example.test"]),
                       person("bob", "bob@example.test", aliases=["team@example.test"])])
    apply(connection, [person("cat", "cat@example.test", aliases=["team@example.test"])], full=False)
    rows = DirectoryAddress.objects.filter(address="team@example.test")
    assert rows.count() == 3
    assert all(row.in_conflict for row in rows)


def test_an_address_that_moves_between_people_in_one_run_is_no_conflict(connection):
    apply(connection, [person("ann", "ann@example.test", aliases=["desk@example.test"]),
                       person("bob", "bob@example.test")])
    run = apply(connection, [person("bob", "bob@example.test", aliases=["desk@example.test"]),
                             person("ann", "ann@example.test")])
    assert run.conflicts == 0
    assert recipient_lookup(partner_id=connection.partner_id, address="desk@example.test").person.external_id == "bob"


@pytest.mark.parametrize(
    ("asked", "kind", "whose"),
    [
        ("ANN@example.test", LookupKind.PRIMARY, "ann"),
        ("a.nn@example.test", LookupKind.ALIAS, "ann"),
        ("ann@forward.example", LookupKind.FORWARDING, "ann"),
        ("dan@example.test", LookupKind.DISABLED, "dan"),
        ("dan.alias@example.test", LookupKind.DISABLED, "dan"),
        ("nobody@example.test", LookupKind.NOT_FOUND, None),
        ("not an address", LookupKind.INVALID, None),
    ],
)
def test_lookup_answers_what_an_address_is(connection, asked, kind, whose):
    apply(connection, [person("ann", "Ann@Example.test", aliases=["a.nn@example.test"],
                              forwarding=["ann@forward.example"]),
                       person("dan", "dan@example.test", aliases=["dan.alias@example.test"], disabled=True)])
    answer = recipient_lookup(partner_id=connection.partner_id, address=asked)
    assert answer.kind == kind
    assert (answer.person.external_id if answer.person else None) == whose
    if kind in (LookupKind.ALIAS, LookupKind.FORWARDING):
        assert answer.primary_address == "ann@example.test"
        assert "use the primary address ann@example.test" in answer.describe()


def test_lookup_normalises_unicode_and_idna_like_the_sync(connection):
    apply(connection, [person("zoe", "Zoë@Bücher.example")])
    decomposed = "Zoe\u0308@xn--bcher-kva.example"
    assert recipient_lookup(partner_id=connection.partner_id, address=decomposed).kind == LookupKind.PRIMARY


def test_lookup_never_answers_for_another_account(connection):
    apply(connection, [person("ann", "ann@example.test")])
    other = DirectoryConnectionFactory()
    assert recipient_lookup(partner_id=other.partner_id, address="ann@example.test").kind == LookupKind.NOT_FOUND


def test_a_second_run_of_the_same_connection_is_refused_while_one_runs(connection):
    sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    with pytest.raises(SyncAlreadyRunning):
        sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)


def test_a_run_without_heartbeat_is_taken_as_abandoned(connection):
    stale = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    SyncRun.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(hours=1))
    fresh = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    stale.refresh_from_db()
    assert stale.status == SyncStatus.FAILED
    assert "Abandoned" in stale.error
    assert fresh.status == SyncStatus.RUNNING


def test_a_successful_run_is_announced_after_commit(connection, django_capture_on_commit_callbacks):
    heard = []

    def listener(sender, run, **kwargs):
        heard.append(run.pk)

    sync_run_succeeded.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = apply(connection, [person("ann", "ann@example.test")])
        assert heard == [run.pk]
    finally:
        sync_run_succeeded.disconnect(listener)


def test_change_markers_compare_numbers_as_numbers_and_timestamps_as_text():
    assert newer_marker("999", "1000") == "1000"
    assert newer_marker("20261126101500Z", "20261125235959Z") == "20261126101500Z"
    assert newer_marker("", "5") == "5"
    assert newer_marker("5", "") == "5"


def test_backslashes_and_tabs_in_values_are_stored_exactly(connection):
    tricky = build_person(
        external_id="doe\t1", dn="cn=Doe\\, John\t,ou=people,dc=example,dc=test", name="John Doe\\Jr",
        disabled=False, primary="john.doe@example.test", aliases=[], forwarding=[],
    )
    apply(connection, [tricky])
    # A tab in a display name is cleaned away by the mapping (test_mapping.py); ids and DNs keep theirs.
    stored = DirectoryUser.objects.get(external_id="doe\t1")
    assert (stored.dn, stored.display_name) == ("cn=Doe\\, John\t,ou=people,dc=example,dc=test", "John Doe\\Jr")


def pages_then(connection_run_pk, after_first=None):
    yield [person("ann", "ann@example.test")]
    if after_first:
        after_first(connection_run_pk)
    yield [person("bob", "bob@example.test")]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_progress_is_committed_without_waiting_for_the_disk():
    connection = DirectoryConnectionFactory()
    run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
    with CaptureQueriesContext(db_connection) as queries:
        run = sync_apply(run=run, pages=pages_then(run.pk), mapper=lambda p: p, full=True, force=False,
                         brake_percent=10)
    assert SyncRun.objects.get(pk=run.pk).pages_done == 2
    assert [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]] == [
        "SET LOCAL synchronous_commit TO OFF"
    ] * 2


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_run_taken_as_abandoned_stops_at_its_next_page():
    connection = DirectoryConnectionFactory()
    run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)

    def abandoned(pk):
        SyncRun.objects.filter(pk=pk).update(status=SyncStatus.FAILED, finished_at=timezone.now())

    with pytest.raises(SyncRunLost):
        sync_apply(run=run, pages=pages_then(run.pk, abandoned), mapper=lambda p: p, full=True, force=False,
                   brake_percent=10)
    assert SyncRun.objects.get(pk=run.pk).pages_done == 1


@pytest.mark.django_db(transaction=True)
def test_the_writer_connects_ahead_only_when_a_run_has_something_to_write(monkeypatch):
    from directory_sync.services.pipeline import BackgroundWriter

    connects = []
    real = BackgroundWriter.connect_ahead
    monkeypatch.setattr(BackgroundWriter, "connect_ahead", lambda self: connects.append(self) or real(self))
    connection = DirectoryConnectionFactory()

    def run_once():
        run = sync_run_start(connection=connection, mode=SyncMode.FULL, dry_run=False, forced=False)
        return sync_apply(run=run, pages=pages_then(run.pk), mapper=lambda p: p, full=True, force=False,
                          brake_percent=10, keyer=lambda p: (p.external_id, f"digest of {p.external_id}", ""))

    assert run_once().created == 2
    assert len({id(writer) for writer in connects}) == 1
    connects.clear()
    assert run_once().unchanged == 2  # a re-sync with nothing changed: no connection opened for nothing
    assert connects == []
