"""Directory syncs against a real OpenLDAP slapd, for both presets."""

import datetime
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import AuditEvent
from directory_sync import errors
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryUser,
    DirectoryUserStatus,
    Preset,
    SyncMode,
    SyncProblem,
    SyncRun,
    SyncStatus,
    stale_after,
)
from directory_sync.selectors import LookupKind, recipient_lookup
from directory_sync.services.connections import directory_connection_configure
from directory_sync.services.lifecycle import sync_runs_abandon
from directory_sync.services.runs import directory_sync_run
from tests.ldap_data import ad_person_attrs, openldap_person_attrs, write_ad_people, write_openldap_people
from tests.ldap_server import start_with_people
from tests.partners.factories import PartnerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PEOPLE = 60


def start_slapd(tmp_path, writer):
    return start_with_people(tmp_path, writer, PEOPLE)


@pytest.fixture
def ad(tmp_path):
    slapd, summary = start_slapd(tmp_path, write_ad_people)
    yield slapd, summary
    slapd.stop()


@pytest.fixture
def openldap(tmp_path):
    slapd, summary = start_slapd(tmp_path, write_openldap_people)
    yield slapd, summary
    slapd.stop()


def configure(slapd, *, preset=Preset.ACTIVE_DIRECTORY, partner=None, **fields):
    user_filter = "(objectClass=adLiteObject)" if preset == Preset.ACTIVE_DIRECTORY else "(objectClass=inetOrgPerson)"
    return directory_connection_configure(
        partner=partner or PartnerFactory(), preset=preset, uri=slapd.uri, start_tls=False,
        bind_dn=slapd.service_dn, bind_password=slapd.service_password, base_dn=slapd.people_dn,
        user_filter=user_filter, **{"page_size": 25, **fields},
    )


def guid_of(attrs) -> str:
    return str(uuid.UUID(bytes_le=attrs["objectGUID"][0]))


def bump_usn(slapd, dn, attrs, usn, **replace):
    """AD raises uSNChanged on every change; slapd does not, so the test does."""
    slapd.modify(dn, {**replace, "uSNChanged": [str(usn)]})


# -- Active Directory -----------------------------------------------------------------------------

def test_ad_full_sync_classifies_primary_alias_and_forwarding_and_ignores_other_types(ad):
    slapd, summary = ad
    connection = configure(slapd)
    run = directory_sync_run(connection=connection, full=True)
    assert (run.status, run.seen, run.created, run.skipped) == (SyncStatus.SUCCEEDED, PEOPLE, PEOPLE, 0)
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == PEOPLE
    assert DirectoryAddress.objects.filter(partner=connection.partner).exclude(kind=AddressKind.FORWARDING).count() \
        == summary.addresses
    assert DirectoryAddress.objects.filter(kind=AddressKind.FORWARDING).count() == summary.forwarding

    dn, attrs = ad_person_attrs(7)
    person = DirectoryUser.objects.get(external_id=guid_of(attrs))
    assert person.dn == dn
    proxies = attrs["proxyAddresses"]
    primary = next(v for v in proxies if v.startswith("SMTP:"))[5:]
    alias = next(v for v in proxies if v.startswith("smtp:"))[5:]
    assert recipient_lookup(partner_id=connection.partner_id, address=primary.upper()).kind in (
        LookupKind.PRIMARY, LookupKind.DISABLED
    )
    answer = recipient_lookup(partner_id=connection.partner_id, address=alias)
    assert answer.person == person
    assert answer.primary_address == primary.lower()
    x500 = next(v for v in proxies if v.startswith("X500:"))
    assert not DirectoryAddress.objects.filter(address__icontains=x500[5:20].lower()).exists()


def test_ad_disabled_people_are_recorded_disabled(ad):
    slapd, summary = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    disabled = DirectoryUser.objects.filter(partner=connection.partner, status=DirectoryUserStatus.DISABLED)
    assert disabled.count() == summary.disabled
    for i in range(1, PEOPLE + 1):
        _, attrs = ad_person_attrs(i)
        if attrs["userAccountControl"] == ["514"]:
            primary = attrs["mail"][0]
            assert recipient_lookup(partner_id=connection.partner_id, address=primary).kind == LookupKind.DISABLED
            break


def test_ad_incremental_run_reads_only_changes_and_picks_up_modifications_and_additions(ad):
    slapd, _ = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    dn, attrs = ad_person_attrs(3)
    top = max(int(ad_person_attrs(i)[1]["uSNChanged"][0]) for i in range(1, PEOPLE + 1))
    bump_usn(slapd, dn, attrs, top + 1, displayName=["Renamed Person"])
    new_dn, new_attrs = ad_person_attrs(PEOPLE + 1)
    new_attrs["uSNChanged"] = [str(top + 2)]
    slapd.add(new_dn, new_attrs)

    run = directory_sync_run(connection=connection)
    assert run.mode == SyncMode.INCREMENTAL
    # The marker is inclusive (>=): the newest entry of the last run is read again, and written not.
    assert (run.seen, run.updated, run.created, run.unchanged, run.removed) == (3, 1, 1, 1, 0)
    assert DirectoryUser.objects.get(external_id=guid_of(attrs)).display_name == "Renamed Person"
    connection.refresh_from_db()
    assert connection.high_water_mark == str(top + 2)

    again = directory_sync_run(connection=connection)
    assert (again.seen, again.updated, again.created) == (1, 0, 0)


def test_deletions_are_invisible_to_incremental_runs_and_removed_by_the_next_full_run(ad):
    slapd, _ = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    dn, attrs = ad_person_attrs(5)
    slapd.delete(dn)

    incremental = directory_sync_run(connection=connection)
    assert (incremental.mode, incremental.removed) == (SyncMode.INCREMENTAL, 0)
    assert DirectoryUser.objects.get(external_id=guid_of(attrs)).status != DirectoryUserStatus.REMOVED

    full = directory_sync_run(connection=connection, full=True)
    assert (full.status, full.removed) == (SyncStatus.SUCCEEDED, 1)
    gone = DirectoryUser.objects.get(external_id=guid_of(attrs))
    assert gone.status == DirectoryUserStatus.REMOVED
    assert recipient_lookup(partner_id=connection.partner_id, address=attrs["mail"][0]).kind == LookupKind.NOT_FOUND


def test_a_person_disabled_in_the_directory_is_disabled_after_the_run(ad):
    slapd, _ = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    dn, attrs = next(
        ad_person_attrs(i) for i in range(1, PEOPLE) if ad_person_attrs(i)[1]["userAccountControl"] == ["512"]
    )
    slapd.modify(dn, {"userAccountControl": ["514"], "uSNChanged": ["999999"]})
    run = directory_sync_run(connection=connection)
    assert (run.status, run.disabled) == (SyncStatus.SUCCEEDED, 1)
    assert DirectoryUser.objects.get(external_id=guid_of(attrs)).status == DirectoryUserStatus.DISABLED


def test_server_stopped_midway_fails_the_run_and_removes_nothing(ad):
    slapd, _ = ad
    # Small pages: the reader thread reads two pages ahead, so the server must stop well before the end.
    connection = configure(slapd, page_size=3)
    directory_sync_run(connection=connection, full=True)
    before = dict(DirectoryUser.objects.values_list("external_id", "status"))

    def stop_after_first_page(run):
        if run.pages_done == 1:
            slapd.stop()

    with pytest.raises(errors.DirectoryUnavailable, match="unreachable") as caught:
        directory_sync_run(connection=connection, full=True, progress=stop_after_first_page)
    run = caught.value.run
    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED
    assert "unreachable" in run.error
    assert run.removed == 0
    assert dict(DirectoryUser.objects.values_list("external_id", "status")) == before


def test_a_stopped_server_fails_the_run_with_a_clear_error(ad):
    slapd, _ = ad
    connection = configure(slapd)
    slapd.stop()
    with pytest.raises(errors.DirectoryUnavailable):
        directory_sync_run(connection=connection, full=True)
    assert SyncRun.objects.get(connection=connection).status == SyncStatus.FAILED


def test_bad_credentials_fail_the_run_and_say_so(ad):
    slapd, _ = ad
    connection = configure(slapd)
    connection.bind_password = "wrong"
    connection.save()
    with pytest.raises(errors.DirectoryError, match="invalid credentials") as caught:
        directory_sync_run(connection=connection, full=True)
    assert not isinstance(caught.value, errors.DirectoryUnavailable)  # not retried: it cannot heal itself
    assert SyncRun.objects.get(connection=connection).error.startswith("The directory refused the bind DN")


def test_bad_entries_are_skipped_with_reasons_and_address_conflicts_recorded(ad):
    slapd, _ = ad
    people = slapd.people_dn
    slapd.add(f"cn=No Address,{people}", {
        "objectClass": ["inetOrgPerson", "adLiteObject"], "cn": ["No Address"], "sn": ["x"],
        "objectGUID": [uuid.uuid4().bytes_le], "proxyAddresses": ["X500:/o=nothing"],
    })
    slapd.add(f"cn=Bad Guid,{people}", {
        "objectClass": ["inetOrgPerson", "adLiteObject"], "cn": ["Bad Guid"], "sn": ["x"],
        "objectGUID": [b"short"], "mail": ["bad.guid@example.test"],
    })
    _, first = ad_person_attrs(1)
    shared_alias = next(v for v in first["proxyAddresses"] if v.startswith("smtp:"))
    slapd.add(f"cn=Alias Thief,{people}", {
        "objectClass": ["inetOrgPerson", "adLiteObject"], "cn": ["Alias Thief"], "sn": ["x"],
        "objectGUID": [uuid.uuid4().bytes_le], "proxyAddresses": ["SMTP:thief@example.test", shared_alias],
    })
    connection = configure(slapd)
    run = directory_sync_run(connection=connection, full=True)
    assert (run.status, run.seen, run.skipped, run.conflicts) == (SyncStatus.SUCCEEDED, PEOPLE + 1, 2, 1)
    reasons = {p.dn.split(",")[0]: p.reason for p in SyncProblem.objects.filter(run=run, kind="skipped")}
    assert reasons == {"cn=No Address": "no primary address", "cn=Bad Guid": "objectGUID must be 16 bytes, got 5"}
    conflict = SyncProblem.objects.filter(run=run, kind="conflict", dn__startswith="cn=Alias Thief").get()
    assert conflict.address == shared_alias[5:].lower()
    assert ad_person_attrs(1)[0] in conflict.reason
    answer = recipient_lookup(partner_id=connection.partner_id, address=shared_alias[5:])
    assert answer.kind == LookupKind.CONFLICT
    assert {p.display_name for p in answer.claimants} == {"Alias Thief", first["displayName"][0]}


def test_the_brake_refuses_a_run_removing_too_many_unless_forced(ad):
    slapd, _ = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    for i in range(1, 11):  # 10 of 60: more than 10 %
        slapd.delete(ad_person_attrs(i)[0])

    refused = directory_sync_run(connection=connection, full=True)
    assert refused.status == SyncStatus.REFUSED
    assert "would remove 10 and disable 0 of 60 people" in refused.error
    assert not DirectoryUser.objects.filter(status=DirectoryUserStatus.REMOVED).exists()

    forced = directory_sync_run(connection=connection, full=True, force=True)
    assert (forced.status, forced.removed) == (SyncStatus.SUCCEEDED, 10)


def test_a_dry_run_reports_what_would_change_and_writes_nothing(ad):
    slapd, _ = ad
    connection = configure(slapd)
    run = directory_sync_run(connection=connection, full=True, dry_run=True)
    assert (run.status, run.dry_run, run.created) == (SyncStatus.SUCCEEDED, True, PEOPLE)
    assert not DirectoryUser.objects.exists()
    connection.refresh_from_db()
    assert connection.high_water_mark == "" and connection.last_sync_at is None


def test_a_second_run_started_while_one_runs_is_refused(ad):
    slapd, _ = ad
    connection = configure(slapd)
    refusals = []

    def start_another(run):
        if run.pages_done == 1:
            with pytest.raises(errors.SyncAlreadyRunning) as caught:
                directory_sync_run(connection=connection, full=True)
            refusals.append(str(caught.value))

    run = directory_sync_run(connection=connection, full=True, progress=start_another)
    assert run.status == SyncStatus.SUCCEEDED
    assert refusals == [errors.ALREADY_RUNNING]
    assert SyncRun.objects.filter(connection=connection).count() == 1


def test_a_run_taken_as_abandoned_midway_stops_and_leaves_the_abandonment_on_record(ad):
    slapd, _ = ad
    connection = configure(slapd)

    def stall(run):
        if run.pages_done == 1:  # the run stalls past the stale time and a dispatcher notices
            sync_runs_abandon(now=timezone.now() + stale_after() + datetime.timedelta(seconds=1))

    with pytest.raises(errors.SyncRunLost):
        directory_sync_run(connection=connection, full=True, progress=stall)
    run = SyncRun.objects.get(connection=connection)
    assert (run.status, run.error, run.pages_done) == (SyncStatus.FAILED, errors.ABANDONED, 1)
    assert list(AuditEvent.objects.filter(target_id=str(run.pk)).values_list("action", flat=True)) == [
        "directory.sync.abandoned"
    ]


def test_progress_is_recorded_page_by_page(ad):
    slapd, _ = ad
    connection = configure(slapd)
    seen = []

    def watch(run):
        seen.append(SyncRun.objects.values_list("pages_done", "seen").get(pk=run.pk))

    directory_sync_run(connection=connection, full=True, progress=watch)
    assert seen == [(1, 25), (2, 50), (3, 60)]


# -- OpenLDAP -------------------------------------------------------------------------------------

def test_openldap_preset_syncs_mail_alternate_and_forwarding_addresses(openldap):
    slapd, summary = openldap
    connection = configure(slapd, preset=Preset.OPENLDAP)
    run = directory_sync_run(connection=connection, full=True)
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, PEOPLE)
    assert DirectoryAddress.objects.exclude(kind=AddressKind.FORWARDING).count() == summary.addresses
    _, attrs = openldap_person_attrs(4)
    person = DirectoryAddress.objects.get(address=attrs["mail"][0].lower()).directory_user
    alias = attrs["mailAlternateAddress"][0]
    answer = recipient_lookup(partner_id=connection.partner_id, address=alias)
    assert (answer.kind, answer.person) == (LookupKind.ALIAS, person)


def test_openldap_incremental_run_uses_modify_timestamp(openldap):
    slapd, _ = openldap
    connection = configure(slapd, preset=Preset.OPENLDAP)
    directory_sync_run(connection=connection, full=True)
    dn, attrs = openldap_person_attrs(9)
    slapd.modify(dn, {"mailAlternateAddress": ["brand.new.alias@example.test"]})

    run = directory_sync_run(connection=connection)
    assert (run.mode, run.seen, run.updated) == (SyncMode.INCREMENTAL, 1, 1)
    answer = recipient_lookup(partner_id=connection.partner_id, address="brand.new.alias@example.test")
    assert answer.kind == LookupKind.ALIAS
    assert answer.primary_address == attrs["mail"][0].lower()


# -- commands -------------------------------------------------------------------------------------

def test_commands_configure_sync_and_look_up_an_account(ad, tmp_path, capsys):
    slapd, _ = ad
    partner = PartnerFactory(slug="acme")
    password_file = tmp_path / "bind-password"
    password_file.write_text(slapd.service_password + "\n")
    call_command(
        "configure_directory", "--account", "acme", "--preset", "active-directory", "--uri", slapd.uri,
        "--bind-dn", slapd.service_dn, "--password-file", str(password_file), "--base-dn", slapd.people_dn,
        "--user-filter", "(objectClass=adLiteObject)", "--page-size", "20", "--no-start-tls",
        "--attribute", "changed=uSNChanged",
    )
    assert partner.directory_connection.bind_password == slapd.service_password
    assert partner.directory_connection.attribute_overrides == {"changed": "uSNChanged"}

    call_command("sync_directory", "--account", "acme", "--full")
    out = capsys.readouterr().out
    assert f"full run succeeded: seen {PEOPLE}, created {PEOPLE}, updated 0" in out

    _, attrs = ad_person_attrs(2)
    alias = next(v for v in attrs["proxyAddresses"] if v.startswith("smtp:"))[5:]
    call_command("directory_lookup", "--account", "acme", alias.upper())
    assert capsys.readouterr().out.startswith(f"alias of {attrs['displayName'][0]}: use the primary address")


def test_sync_command_exits_non_zero_when_the_run_fails(ad):
    slapd, _ = ad
    configure(slapd, partner=PartnerFactory(slug="down"))
    slapd.stop()
    with pytest.raises(CommandError, match="full run failed"):
        call_command("sync_directory", "--account", "down", "--full")


def test_commands_name_an_unknown_account():
    with pytest.raises(CommandError, match="No partner with the slug 'nope'"):
        call_command("sync_directory", "--account", "nope")


def test_an_entry_that_cannot_be_read_any_more_is_kept_not_removed(ad):
    slapd, _ = ad
    connection = configure(slapd)
    directory_sync_run(connection=connection, full=True)
    dn, attrs = ad_person_attrs(4)
    slapd.modify(dn, {"proxyAddresses": ["SMTP:one@example.test", "SMTP:two@example.test"]})  # two primaries
    run = directory_sync_run(connection=connection, full=True)
    assert (run.status, run.skipped, run.removed) == (SyncStatus.SUCCEEDED, 1, 0)
    person = DirectoryUser.objects.get(external_id=guid_of(attrs))
    assert person.status != DirectoryUserStatus.REMOVED
    assert person.addresses.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_batches_are_written_in_the_background_with_the_same_result(ad, monkeypatch):
    from directory_sync.services import sync as engine
    from directory_sync.services.pipeline import BackgroundWriter

    slapd, _ = ad
    _, first = ad_person_attrs(1)
    shared_alias = next(v for v in first["proxyAddresses"] if v.startswith("smtp:"))
    slapd.add(f"cn=Alias Thief,{slapd.people_dn}", {
        "objectClass": ["inetOrgPerson", "adLiteObject"], "cn": ["Alias Thief"], "sn": ["x"],
        "objectGUID": [uuid.uuid4().bytes_le], "proxyAddresses": ["SMTP:thief@example.test", shared_alias],
    })
    made = []

    def recording(writer):
        made.append(writer)
        return BackgroundWriter(writer)

    monkeypatch.setattr(engine, "BackgroundWriter", recording)
    monkeypatch.setattr(engine, "BATCH_SIZE", 10)  # several batches in flight
    connection = configure(slapd)
    run = directory_sync_run(connection=connection, full=True)
    assert made, "the background writer was not used"
    assert (run.status, run.created, run.conflicts) == (SyncStatus.SUCCEEDED, PEOPLE + 1, 1)
    # The thief's batch came after person 1's: its problem names person 1 as the other claimant.
    conflict = SyncProblem.objects.get(run=run, kind="conflict", dn__startswith="cn=Alias Thief")
    assert ad_person_attrs(1)[0] in conflict.reason
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == PEOPLE + 1
    again = directory_sync_run(connection=connection, full=True)
    assert (again.unchanged, again.updated, again.created) == (PEOPLE + 1, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_gets_a_first_batch_of_one_page_then_full_batches(ad, monkeypatch):
    # A first sync waits for the writer: it starts on a small batch instead of idling until a full one is mapped.
    from directory_sync.services import sync as engine
    from directory_sync.services.pipeline import BackgroundWriter

    sizes = []

    class Recording(BackgroundWriter):
        def submit(self, people, new):
            sizes.append(len(people))
            super().submit(people, new)

    monkeypatch.setattr(engine, "BackgroundWriter", Recording)
    monkeypatch.setattr(engine, "FIRST_BATCH_SIZE", 7)
    monkeypatch.setattr(engine, "BATCH_SIZE", 25)
    slapd, _ = ad
    run = directory_sync_run(connection=configure(slapd), full=True)
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, PEOPLE)
    assert sizes == [7, 25, 25, PEOPLE - 57]
