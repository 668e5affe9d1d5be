"""A partner's own changes to a CSV-sourced account's people: one person at a time, or a change file (all or
nothing, braked), with the sync's normalisation and stricter address rules, audited and announced on commit."""

import pytest

from core.models import AuditEvent
from directory_sync.errors import CsvInvalid
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
)
from directory_sync.services import people_edits
from directory_sync.services.people_edits import (
    ADDED,
    CHANGED,
    REMOVED_ACTION,
    ChangesRefusedByBrake,
    PeopleEditRefused,
    directory_changes_apply,
    directory_person_add,
    directory_person_change,
    directory_person_remove,
)
from directory_sync.services.runs import directory_csv_import
from directory_sync.signals import people_changed
from partners.models import AccountDomain
from tests.accounts.factories import PartnerAdminFactory
from tests.directory_sync.factories import DirectoryConnectionFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
CHANGE_HEADER = "action,name,primary,aliases,forwarding,enabled\n"


def account(slug="acme", size=20):
    """A CSV-sourced account of `size` people: p<i>@<slug>.example with the alias a<i>@<slug>.example."""
    partner = PartnerFactory(slug=slug)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    rows = [f"Person {i},P{i}@{slug}.example,a{i}@{slug}.example,,yes\n" for i in range(size)]
    directory_csv_import(connection=connection, data=(HEADER + "".join(rows)).encode())
    return partner


@pytest.fixture
def partner():
    return account()


@pytest.fixture
def actor(partner):
    return PartnerAdminFactory(partner=partner)


def person(partner, address):
    return DirectoryAddress.objects.get(partner=partner, address=address).directory_user


def addresses(user):
    return {(a.address, a.kind) for a in user.addresses.all()}


def changes(partner, actor, *rows, **kwargs):
    return directory_changes_apply(partner=partner, actor=actor, data=(CHANGE_HEADER + "".join(rows)).encode(),
                                   **kwargs)


# -- one person ------------------------------------------------------------------------------------------------------


def test_adding_a_person_stores_them_normalised_with_every_kind_of_address(partner, actor):
    added = directory_person_add(partner=partner, actor=actor, name="New Person", primary=" New@Acme.example ",
                                 aliases=["n@acme.example"], forwarding=["new@elsewhere.example"])
    assert added.status == DirectoryUserStatus.ACTIVE
    assert added.external_id == "new@acme.example"
    assert addresses(added) == {("new@acme.example", AddressKind.PRIMARY), ("n@acme.example", AddressKind.ALIAS),
                                ("new@elsewhere.example", AddressKind.FORWARDING)}
    assert added.addresses.get(kind=AddressKind.PRIMARY).display_address == "New@Acme.example"


def test_an_address_another_person_holds_is_refused_naming_them_and_nothing_changes(partner, actor):
    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Copy", primary="copy@acme.example",
                             aliases=["a3@acme.example"])
    assert caught.value.errors == [("aliases", str(people_edits.ADDRESS_HELD).format(
        address="a3@acme.example", name="Person 3"))]
    assert not DirectoryUser.objects.filter(external_id="copy@acme.example").exists()
    assert not AuditEvent.objects.filter(action=ADDED).exists()


def test_a_person_already_on_the_account_cannot_be_added_again(partner, actor):
    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Again", primary="p1@acme.example")
    assert caught.value.errors[0][0] == "primary"


def test_a_malformed_address_is_refused_on_its_field(partner, actor):
    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Bad", primary="bad@acme.example",
                             forwarding=["not-an-address"])
    assert caught.value.errors[0][0] == "forwarding"


def test_an_address_at_another_partners_domain_is_refused(partner, actor):
    other = PartnerFactory(slug="other")
    AccountDomain.objects.create(partner=other, domain="other.example")
    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Spy", primary="spy@acme.example",
                             aliases=["ceo@other.example"])
    assert caught.value.errors == [("aliases", str(people_edits.FOREIGN_DOMAIN).format(
        address="ceo@other.example", domain="other.example"))]


def test_a_primary_address_must_be_at_one_of_the_accounts_domains_when_it_has_some(partner, actor):
    AccountDomain.objects.create(partner=partner, domain="acme.example")
    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Out", primary="out@gmail.example")
    assert caught.value.errors[0][0] == "primary"
    # Forwarding addresses lead out of the account: any domain but another partner's will do.
    directory_person_add(partner=partner, actor=actor, name="In", primary="in@acme.example",
                         forwarding=["in@gmail.example"])


def test_changing_a_person_replaces_name_addresses_and_state_and_keeps_their_id(partner, actor):
    target = person(partner, "p2@acme.example")
    changed = directory_person_change(partner=partner, actor=actor, person_id=target.pk, name="Renamed",
                                      primary="renamed@acme.example", aliases=["p2@acme.example"], disabled=True)
    assert (changed.pk, changed.external_id) == (target.pk, target.external_id)
    assert (changed.display_name, changed.status) == ("Renamed", DirectoryUserStatus.DISABLED)
    assert addresses(changed) == {("renamed@acme.example", AddressKind.PRIMARY), ("p2@acme.example", AddressKind.ALIAS)}


def test_a_person_may_take_over_their_own_addresses_in_another_kind(partner, actor):
    target = person(partner, "p4@acme.example")
    changed = directory_person_change(partner=partner, actor=actor, person_id=target.pk, name="Person 4",
                                      primary="a4@acme.example", forwarding=["p4@acme.example"])
    assert addresses(changed) == {("a4@acme.example", AddressKind.PRIMARY), ("p4@acme.example", AddressKind.FORWARDING)}


def test_removing_a_person_keeps_them_recorded_as_removed_and_frees_their_addresses(partner, actor):
    target = person(partner, "p5@acme.example")
    removed = directory_person_remove(partner=partner, actor=actor, person_id=target.pk)
    assert removed.status == DirectoryUserStatus.REMOVED
    assert not DirectoryAddress.objects.filter(directory_user=target).exists()
    directory_person_add(partner=partner, actor=actor, name="Heir", primary="heir@acme.example",
                         aliases=["a5@acme.example"])


def test_a_removed_person_added_again_is_the_same_person_active_again(partner, actor):
    target = person(partner, "p6@acme.example")
    directory_person_remove(partner=partner, actor=actor, person_id=target.pk)
    again = directory_person_add(partner=partner, actor=actor, name="Back", primary="p6@acme.example")
    assert (again.pk, again.status) == (target.pk, DirectoryUserStatus.ACTIVE)


def test_removing_one_person_of_a_small_account_is_never_braked(actor):
    small = account(slug="tiny", size=2)
    directory_person_remove(partner=small, actor=PartnerAdminFactory(partner=small),
                            person_id=person(small, "p0@tiny.example").pk)


def test_a_person_of_another_partner_cannot_be_changed_or_removed(partner, actor):
    other = account(slug="other", size=2)
    stranger = person(other, "p0@other.example")
    with pytest.raises(PeopleEditRefused):
        directory_person_remove(partner=partner, actor=actor, person_id=stranger.pk)
    with pytest.raises(PeopleEditRefused):
        directory_person_change(partner=partner, actor=actor, person_id=stranger.pk, name="X",
                                primary="x@acme.example")
    assert DirectoryUser.objects.get(pk=stranger.pk).status == DirectoryUserStatus.ACTIVE


def test_an_account_synced_from_a_directory_server_is_refused_with_a_clear_message(actor):
    synced = DirectoryConnectionFactory(kind=SourceKind.LDAP).partner
    with pytest.raises(PeopleEditRefused, match="directory server"):
        directory_person_add(partner=synced, actor=actor, name="X", primary="x@ldap.example")
    with pytest.raises(PeopleEditRefused, match="directory server"):
        directory_changes_apply(partner=synced, actor=actor, data=b"not even a csv")


def test_every_change_is_audited_with_the_actor_and_the_record_before_and_after(partner, actor):
    target = person(partner, "p7@acme.example")
    directory_person_change(partner=partner, actor=actor, person_id=target.pk, name="Person 7",
                            primary="p7@acme.example", aliases=["seven@acme.example"])
    event = AuditEvent.objects.get(action=CHANGED)
    assert (event.actor, event.partner_id, event.target_id) == (actor, partner.pk, str(target.pk))
    assert event.data["before"]["aliases"] == ["a7@acme.example"]
    assert event.data["after"]["aliases"] == ["seven@acme.example"]
    assert (event.data["before"]["primary"], event.data["after"]["primary"]) == ("P7@acme.example", "p7@acme.example")


def test_a_change_that_changes_nothing_is_not_audited(partner, actor):
    target = person(partner, "p8@acme.example")
    directory_person_change(partner=partner, actor=actor, person_id=target.pk, name="Person 8",
                            primary="P8@acme.example", aliases=["a8@acme.example"])
    assert not AuditEvent.objects.filter(action=CHANGED).exists()


def test_people_changed_is_sent_with_the_partner_only_after_the_commit(
    partner, actor, django_capture_on_commit_callbacks
):
    received = []

    def listener(sender, partner_id, **kwargs):
        received.append(partner_id)

    people_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            directory_person_add(partner=partner, actor=actor, name="Late", primary="late@acme.example")
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [partner.pk]
    finally:
        people_changed.disconnect(listener)


# -- change files ----------------------------------------------------------------------------------------------------


def test_a_change_file_adds_updates_and_removes_the_people_it_names(partner, actor):
    summary = changes(partner, actor,
                      "add,Newcomer,newcomer@acme.example,,,yes\n",
                      "update,Person One,p1@acme.example,one@acme.example,,no\n",
                      "remove,,p2@acme.example,,,\n",
                      "update,Person 3,P3@acme.example,a3@acme.example,,yes\n")
    assert (summary.added, summary.updated, summary.removed, summary.unchanged, summary.disabled) == (1, 1, 1, 1, 1)
    assert summary.applied
    assert person(partner, "newcomer@acme.example").status == DirectoryUserStatus.ACTIVE
    one = person(partner, "p1@acme.example")
    assert (one.display_name, one.status) == ("Person One", DirectoryUserStatus.DISABLED)
    assert addresses(one) == {("p1@acme.example", AddressKind.PRIMARY), ("one@acme.example", AddressKind.ALIAS)}
    assert DirectoryUser.objects.get(external_id="p2@acme.example").status == DirectoryUserStatus.REMOVED
    assert DirectoryUser.objects.filter(partner=partner).exclude(status=DirectoryUserStatus.REMOVED).count() == 20
    assert sorted(AuditEvent.objects.filter(partner_id=partner.pk, action__startswith="directory.person.")
                  .values_list("action", flat=True)) == sorted([ADDED, CHANGED, REMOVED_ACTION])


def test_a_dry_run_counts_the_changes_and_writes_nothing(partner, actor):
    summary = changes(partner, actor, "add,Newcomer,newcomer@acme.example,,,yes\n", "remove,,p2@acme.example,,,\n",
                      dry_run=True)
    assert (summary.added, summary.removed, summary.applied) == (1, 1, False)
    assert not DirectoryUser.objects.filter(external_id="newcomer@acme.example").exists()
    assert DirectoryUser.objects.get(external_id="p2@acme.example").status == DirectoryUserStatus.ACTIVE
    assert not AuditEvent.objects.filter(action__startswith="directory.person.").exists()


def test_a_file_with_a_bad_row_changes_nothing_and_names_every_bad_row(partner, actor):
    with pytest.raises(CsvInvalid) as caught:
        changes(partner, actor,
                "add,Newcomer,newcomer@acme.example,,,yes\n",
                "update,Nobody,nobody@acme.example,,,yes\n",
                "rename,X,p1@acme.example,,,yes\n",
                "add,Thief,thief@acme.example,a9@acme.example,,yes\n")
    assert [row for row, _ in caught.value.problems] == [3, 4, 5]
    assert "nobody@acme.example" in caught.value.problems[0][1]
    assert "action must be add, update or remove" in caught.value.problems[1][1]
    assert "Person 9" in caught.value.problems[2][1]
    assert not DirectoryUser.objects.filter(external_id="newcomer@acme.example").exists()


def test_a_person_or_an_address_may_appear_in_one_row_only(partner, actor):
    with pytest.raises(CsvInvalid) as caught:
        changes(partner, actor, "remove,,p1@acme.example,,,\n", "update,P,p1@acme.example,,,yes\n",
                "add,A,x@acme.example,shared@acme.example,,yes\n", "add,B,y@acme.example,shared@acme.example,,yes\n")
    assert caught.value.problems == [(3, "this person is already in row 2"),
                                     (5, "address shared@acme.example is already in row 4")]


def test_addresses_may_move_between_people_changed_in_the_same_file(partner, actor):
    changes(partner, actor, "update,Person 1,p1@acme.example,a2@acme.example,,yes\n",
            "update,Person 2,p2@acme.example,a1@acme.example,,yes\n")
    assert ("a2@acme.example", AddressKind.ALIAS) in addresses(person(partner, "p1@acme.example"))
    assert ("a1@acme.example", AddressKind.ALIAS) in addresses(person(partner, "p2@acme.example"))


def test_a_file_with_ids_matches_people_by_id_and_may_change_their_primary(actor):
    partner = PartnerFactory(slug="ids")
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=b"id,name,primary,aliases,forwarding,enabled\n"
                         b"e1,One,one@ids.example,,,yes\ne2,Two,two@ids.example,,,yes\n")
    directory_changes_apply(partner=partner, actor=actor, data=b"action,id,name,primary,aliases,forwarding,enabled\n"
                            b"update,e1,One,uno@ids.example,,,yes\n")
    assert DirectoryUser.objects.get(partner=partner, external_id="e1").addresses.get().address == "uno@ids.example"


def test_a_change_file_over_the_brake_is_refused_whole_unless_forced(partner, actor):
    rows = [f"remove,,p{i}@acme.example,,,\n" for i in range(2)] + ["update,Person 2,p2@acme.example,,,no\n"]
    preview = changes(partner, actor, *rows, dry_run=True)
    assert preview.brake.startswith("Refused: this change file would remove 2 and disable 1 of 20 people (15.0%)")
    with pytest.raises(ChangesRefusedByBrake):
        changes(partner, actor, *rows, "add,Newcomer,newcomer@acme.example,,,yes\n")
    assert not DirectoryUser.objects.filter(partner=partner, status__in=["disabled", "removed"]).exists()
    assert not DirectoryUser.objects.filter(external_id="newcomer@acme.example").exists()
    summary = changes(partner, actor, *rows, force=True)
    assert (summary.removed, summary.disabled, summary.applied) == (2, 1, True)


def test_a_change_file_within_the_brake_goes_through(partner, actor):
    summary = changes(partner, actor, "remove,,p0@acme.example,,,\n", "remove,,p1@acme.example,,,\n")
    assert (summary.removed, summary.brake) == (2, "")


def test_a_change_file_changes_only_its_own_account(partner, actor):
    other = account(slug="other", size=3)
    with pytest.raises(CsvInvalid, match="no one on the account"):
        changes(partner, actor, "remove,,p0@other.example,,,\n")
    assert DirectoryUser.objects.get(partner=other, external_id="p0@other.example").status == DirectoryUserStatus.ACTIVE


def test_a_file_without_an_action_column_is_refused_on_its_header(partner, actor):
    with pytest.raises(CsvInvalid, match=r"row 1: missing column\(s\): action"):
        directory_changes_apply(partner=partner, actor=actor, data=(HEADER + "A,a@acme.example,,,yes\n").encode())


def test_an_empty_change_file_is_refused(partner, actor):
    with pytest.raises(CsvInvalid, match="no changes"):
        changes(partner, actor)


def test_the_domains_a_layer_above_refuses_are_refused_with_its_reason(partner, actor):
    def check(domains):
        return {"vendor.example": "the vendor's own domain"} if "vendor.example" in domains else {}

    with pytest.raises(PeopleEditRefused) as caught:
        directory_person_add(partner=partner, actor=actor, name="Staff", primary="staff@acme.example",
                             forwarding=["boss@vendor.example"], domain_check=check)
    assert caught.value.errors == [("forwarding", "boss@vendor.example: the vendor's own domain")]
    with pytest.raises(CsvInvalid, match=r"row 2: boss@vendor\.example: the vendor.s own domain"):
        changes(partner, actor, "add,Boss,boss@vendor.example,,,yes\n", domain_check=check)


def test_no_one_removes_disables_or_moves_their_own_person(partner):
    me = PartnerAdminFactory(partner=partner, display_email="P1@acme.example")
    mine = person(partner, "p1@acme.example")
    with pytest.raises(PeopleEditRefused, match=r"p1@acme\.example is your own address"):
        directory_person_remove(partner=partner, actor=me, person_id=mine.pk)
    with pytest.raises(PeopleEditRefused, match="your own address"):
        directory_person_change(partner=partner, actor=me, person_id=mine.pk, name="Me", primary="p1@acme.example",
                                disabled=True)
    with pytest.raises(CsvInvalid, match=r"row 2: p1@acme\.example is your own address"):
        changes(partner, me, "update,Me,p1@acme.example,,,no\n")
    directory_person_change(partner=partner, actor=me, person_id=mine.pk, name="Me", primary="p1@acme.example")
    assert DirectoryUser.objects.get(pk=mine.pk).display_name == "Me"
