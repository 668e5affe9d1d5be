"""SCIM Users against the live server, walking what Microsoft Entra ID and Okta send: create, find by filter, patch
(Entra's path forms, Okta's value-only replace), replace, deactivate, delete, and paging; errors as SCIM Errors."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from scim2_models import Email, Error, ListResponse, Name, PatchOp, PatchOperation, SCIMException, User

from core.models import AuditEvent
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryUser,
    DirectoryUserStatus,
    ScimIdentity,
)
from directory_sync.scim.resources import EXTENSION_URN, PartnerPortalUser, PortalUser
from directory_sync.services import scim as service
from directory_sync.services.people_edits import ADDED
from partners.models import Partner
from tests.scim.conftest import scim_account, scim_client

pytestmark = pytest.mark.django_db(transaction=True)

SCIM_JSON = "application/scim+json"


def ann(*, forwarding=("ann@home.example",), **changes) -> User:
    user = PortalUser(
        user_name="Ann.Archer@cloud.example", external_id="entra-0001", display_name="Ann Archer",
        name=Name(given_name="Ann", family_name="Archer"), active=True,
        emails=[Email(value="Ann.Archer@cloud.example", type="work", primary=True),
                Email(value="aa@cloud.example", type="other")],
    )
    user[PartnerPortalUser] = PartnerPortalUser(forwarding=list(forwarding)) if forwarding else None
    for name, value in changes.items():
        setattr(user, name, value)
    return user


def addresses_of(person: DirectoryUser) -> dict[str, str]:
    return dict(DirectoryAddress.objects.filter(directory_user=person).values_list("address", "kind"))


def person_of(scim_id: str) -> DirectoryUser:
    return ScimIdentity.objects.select_related("directory_user").get(scim_id=scim_id).directory_user


def entra_patch(client, scim_id: str, operations: list[dict]):
    """A PATCH body as Entra ID sends it (capitalised ops, string booleans), through the client's raw request."""
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
    return client.client.patch(f"/Users/{scim_id}", json=body, headers={"Content-Type": SCIM_JSON})


def test_a_created_user_is_a_person_of_the_account_with_primary_aliases_and_forwarding(scim, account):
    created = scim.create(ann())

    person = person_of(created.id)
    assert person.partner == account[0].partner and person.status == DirectoryUserStatus.ACTIVE
    assert person.display_name == "Ann Archer"
    assert addresses_of(person) == {"ann.archer@cloud.example": AddressKind.PRIMARY,
                                    "aa@cloud.example": AddressKind.ALIAS, "ann@home.example": AddressKind.FORWARDING}
    assert created.user_name == "Ann.Archer@cloud.example" and created.external_id == "entra-0001"
    assert [(e.value, e.primary) for e in created.emails] == [("Ann.Archer@cloud.example", True),
                                                              ("aa@cloud.example", False)]
    assert created[PartnerPortalUser].forwarding == ["ann@home.example"]
    assert AuditEvent.objects.filter(action=ADDED, data__via="scim").count() == 1


def test_a_user_is_found_by_user_name_external_id_and_either_email_filter(scim):
    created = scim.create(ann())
    scim.create(ann(user_name="bob@cloud.example", external_id="entra-0002", forwarding=(),
                    emails=[Email(value="bob@cloud.example", primary=True)]))

    for text in ('userName eq "ANN.ARCHER@cloud.example"', 'externalId eq "entra-0001"',
                 'emails[value eq "AA@cloud.example"]', 'emails.value eq "ann.archer@cloud.example"'):
        found = scim.query(PortalUser, query_parameters={"filter": text})
        assert isinstance(found, ListResponse) and found.total_results == 1, text
        assert [u.id for u in found.resources] == [created.id], text
    nobody = scim.query(PortalUser, query_parameters={"filter": 'userName eq "nobody@cloud.example"'})
    assert nobody.total_results == 0 and not nobody.resources


def test_entra_id_path_forms_change_the_primary_address_and_add_and_remove_aliases(scim):
    created = scim.create(ann())

    answer = entra_patch(scim, created.id, [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "Ann.Smith@cloud.example"},
        {"op": "Add", "path": "emails", "value": [{"value": "annie@cloud.example", "type": "other"}]},
        {"op": "Remove", "path": 'emails[value eq "aa@cloud.example"]'},
        {"op": "Replace", "path": "displayName", "value": "Ann Smith"},
    ])

    assert answer.status_code == 200, answer.text
    person = person_of(created.id)
    assert addresses_of(person) == {"ann.smith@cloud.example": AddressKind.PRIMARY,
                                    "annie@cloud.example": AddressKind.ALIAS,
                                    "ann@home.example": AddressKind.FORWARDING}
    assert person.display_name == "Ann Smith"
    assert answer.json()["emails"][0] == {"value": "Ann.Smith@cloud.example", "type": "work", "primary": True}


def test_entra_ids_add_at_a_filter_matching_nothing_creates_the_entry_and_unknown_attributes_are_ignored(scim):
    created = scim.create(ann(emails=[Email(value="ann.archer@cloud.example", type="other", primary=True)]))

    answer = entra_patch(scim, created.id, [
        {"op": "Add", "path": 'emails[type eq "home"].value', "value": "ann.home@cloud.example"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:costCode",
         "value": "42"},
    ])

    assert answer.status_code == 200, answer.text
    assert addresses_of(person_of(created.id))["ann.home@cloud.example"] == AddressKind.ALIAS


def test_forwarding_is_patched_through_the_portals_extension(scim):
    created = scim.create(ann())

    patch = PatchOp[PortalUser](operations=[PatchOperation[PortalUser](
        op="replace", path=f"{EXTENSION_URN}:forwarding", value=["desk@home.example"])])
    scim.modify(PortalUser, created.id, patch)

    assert addresses_of(person_of(created.id))["desk@home.example"] == AddressKind.FORWARDING
    assert "ann@home.example" not in addresses_of(person_of(created.id))


def test_okta_deactivation_by_a_value_only_replace_disables_the_person(scim):
    created = scim.create(ann())

    answer = scim.client.patch(f"/Users/{created.id}", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}]})

    assert answer.status_code == 200 and answer.json()["active"] is False
    assert person_of(created.id).status == DirectoryUserStatus.DISABLED
    again = scim.query(PortalUser, created.id)
    assert again.active is False


def test_entra_deactivation_with_a_string_boolean_disables_the_person(scim):
    created = scim.create(ann())

    answer = entra_patch(scim, created.id, [{"op": "Replace", "path": "active", "value": "False"}])

    assert answer.status_code == 200, answer.text
    assert person_of(created.id).status == DirectoryUserStatus.DISABLED


def test_put_replaces_the_whole_record(scim):
    created = scim.create(ann())
    wanted = ann(display_name="Ann Archer-Smith", emails=[Email(value="ann@cloud.example", primary=True)],
                 forwarding=())
    wanted.id = created.id

    replaced = scim.replace(wanted)

    assert replaced.display_name == "Ann Archer-Smith"
    assert addresses_of(person_of(created.id)) == {"ann@cloud.example": AddressKind.PRIMARY}


def test_delete_removes_the_person_keeps_them_recorded_and_the_id_then_answers_404(scim):
    created = scim.create(ann())
    person = person_of(created.id)

    scim.delete(PortalUser, created.id)

    person.refresh_from_db()
    assert person.status == DirectoryUserStatus.REMOVED and not addresses_of(person)
    with pytest.raises(SCIMException) as refused:
        scim.query(PortalUser, created.id)
    assert refused.value.status == 404
    # The provider may provision the same userName again: a new person.
    again = scim.create(ann())
    assert again.id != created.id


def test_a_person_uploaded_before_the_move_to_scim_is_adopted_not_doubled(scim, account):
    connection = account[0]
    earlier = DirectoryUser.objects.create(partner=connection.partner, external_id="csv-ann", display_name="Ann")
    DirectoryAddress.objects.create(partner=connection.partner, directory_user=earlier, kind=AddressKind.PRIMARY,
                                    address="ann.archer@cloud.example", display_address="Ann.Archer@cloud.example")

    created = scim.create(ann())

    assert person_of(created.id).pk == earlier.pk
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == 1


def test_paging_walks_a_thousand_users_in_order_with_start_index_and_count(scim, account):
    partner = account[0].partner
    people = DirectoryUser.objects.bulk_create(
        DirectoryUser(partner=partner, external_id=f"p{n:04}", display_name=f"Person {n:04}") for n in range(1000))
    DirectoryAddress.objects.bulk_create(
        DirectoryAddress(partner=partner, directory_user=p, kind=AddressKind.PRIMARY, address=f"p{n:04}@cloud.example",
                         display_address=f"P{n:04}@cloud.example") for n, p in enumerate(people))
    ScimIdentity.objects.bulk_create(
        ScimIdentity(partner=partner, directory_user=p, user_name=f"p{n:04}@cloud.example",
                     display_user_name=f"P{n:04}@cloud.example") for n, p in enumerate(people))

    seen, start = [], 1
    while True:
        page = scim.query(PortalUser, query_parameters={"startIndex": start, "count": 150})
        assert page.total_results == 1000 and page.start_index == start
        seen += [u.user_name for u in page.resources or []]
        if not page.resources:
            break
        start += page.items_per_page

    assert seen == [f"P{n:04}@cloud.example" for n in range(1000)]


def test_a_user_name_already_provisioned_is_a_409_uniqueness_error(scim):
    scim.create(ann())

    with pytest.raises(SCIMException) as refused:
        scim.create(ann(external_id="entra-9999", emails=[Email(value="other@cloud.example", primary=True)]))

    assert (refused.value.status, refused.value.scim_type) == (409, "uniqueness")


def test_an_address_another_person_holds_is_refused_and_nothing_changes(scim):
    scim.create(ann())

    answer = scim.client.post("/Users", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "carl@cloud.example",
        "emails": [{"value": "carl@cloud.example", "primary": True}, {"value": "aa@cloud.example"}]})

    assert answer.status_code == 409 and answer.headers["Content-Type"] == SCIM_JSON
    error = Error.model_validate(answer.json())
    assert error.scim_type == "uniqueness" and "aa@cloud.example" in error.detail.lower()
    assert not ScimIdentity.objects.filter(user_name="carl@cloud.example").exists()


def test_an_unreadable_or_unsupported_filter_is_a_400_invalid_filter(http):
    for text in ('userName eq', 'title eq "boss"'):
        answer = http.get("/Users", params={"filter": text})
        assert answer.status_code == 400, text
        assert answer.json()["scimType"] == "invalidFilter"


def test_a_wrong_or_missing_token_is_a_401_scim_error(live_server, scim):
    scim.create(ann())
    for token in ("scim_not-the-token", None):
        answer = scim_client(live_server, token).client.get("/Users")
        assert answer.status_code == 401 and answer.headers["Content-Type"] == SCIM_JSON
        assert Error.model_validate(answer.json()).status == 401


def test_the_token_of_a_partner_switched_off_is_refused(live_server, account, http):
    connection, _token = account
    assert http.get("/Users").status_code == 200
    Partner.objects.filter(pk=connection.partner_id).update(is_active=False)
    assert http.get("/Users").status_code == 401


def test_another_connections_user_ids_answer_404_and_its_people_are_not_listed(live_server, scim):
    created = scim.create(ann())
    _other, token = scim_account("Other MSP")
    other = scim_client(live_server, token)

    for method in ("GET", "PUT", "PATCH", "DELETE"):
        answer = other.client.request(method, f"/Users/{created.id}", headers={"Content-Type": SCIM_JSON},
                                      json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                            "Operations": [{"op": "replace", "value": {"active": False}}]})
        assert answer.status_code == 404, method
    assert other.query(PortalUser).total_results == 0
    assert person_of(created.id).status == DirectoryUserStatus.ACTIVE


def test_the_brake_refuses_deprovisioning_more_than_its_share_within_the_window(live_server, settings):
    settings.SCIM_BRAKE_MINIMUM = 2
    _connection, token = scim_account("Braked MSP", brake=10)
    client = scim_client(live_server, token)
    ids = [client.create(ann(user_name=f"u{n}@cloud.example", external_id=f"e{n}", forwarding=(), emails=[
        Email(value=f"u{n}@cloud.example", primary=True)])).id for n in range(30)]
    known_before_the_window(ids)

    client.delete(PortalUser, ids[0])
    deactivated = entra_patch(client, ids[1], [{"op": "Replace", "path": "active", "value": "False"}])
    third = entra_patch(client, ids[2], [{"op": "Replace", "path": "active", "value": "False"}])
    fourth = client.client.delete(f"/Users/{ids[3]}")

    assert deactivated.status_code == 200
    assert third.status_code == 200  # 10 % of 30 is 3
    assert fourth.status_code == 409
    assert fourth.json()["detail"] == str(service.BRAKE).format(done=3, present=30, minutes=60, limit=3, percent=10)
    assert person_of(ids[3]).status == DirectoryUserStatus.ACTIVE
    # Other changes go on.
    assert entra_patch(client, ids[4], [{"op": "Replace", "path": "displayName", "value": "Still here"}]
                       ).status_code == 200


def known_before_the_window(ids) -> None:
    """The people were provisioned before the brake's window began."""
    DirectoryUser.objects.filter(pk__in=[person_of(i).pk for i in ids]).update(
        first_seen_at=timezone.now() - datetime.timedelta(hours=2))


def test_people_created_within_the_window_do_not_make_room_for_more_removals(live_server, settings):
    settings.SCIM_BRAKE_MINIMUM = 2
    _connection, token = scim_account("Padded MSP", brake=10)
    client = scim_client(live_server, token)

    def create(prefix: str, count: int) -> list[str]:
        return [client.create(ann(user_name=f"{prefix}{n}@cloud.example", external_id=f"{prefix}{n}", forwarding=(),
                                  emails=[Email(value=f"{prefix}{n}@cloud.example", primary=True)])).id
                for n in range(count)]

    real = create("r", 30)
    known_before_the_window(real)
    create("pad", 30)  # 60 people now, but only 30 were there when the window began

    for person in real[:3]:
        assert client.client.delete(f"/Users/{person}").status_code == 204
    refused = client.client.delete(f"/Users/{real[3]}")

    assert refused.status_code == 409
    assert refused.json()["detail"] == str(service.BRAKE).format(done=3, present=30, minutes=60, limit=3, percent=10)


def test_the_domains_a_layer_above_refuses_are_refused_with_its_reason(scim, monkeypatch):
    monkeypatch.setattr(service, "_domain_checks", [])
    service.scim_domain_check_register(lambda partner: lambda domains: {
        d: "the vendor's own domain" for d in domains if d == "vendor.example"})

    answer = scim.client.post("/Users", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "eve@vendor.example"})

    assert answer.status_code == 409 and "the vendor's own domain" in answer.json()["detail"]
    assert not DirectoryUser.objects.exists()


def test_a_changed_user_name_or_external_id_is_audited_with_before_and_after(scim):
    created = scim.create(ann())

    entra_patch(scim, created.id, [{"op": "Replace", "path": "userName", "value": "ann.smith@cloud.example"}])

    [event] = AuditEvent.objects.filter(action=service.IDENTITY_CHANGED)
    assert event.data["before"]["userName"] == "Ann.Archer@cloud.example"
    assert event.data["after"] == {"userName": "ann.smith@cloud.example", "externalId": "entra-0001"}
    found = scim.query(PortalUser, query_parameters={"filter": 'userName eq "Ann.Smith@cloud.example"'})
    assert [u.id for u in found.resources] == [created.id]


def test_the_brake_lets_deprovisioning_go_on_once_the_window_has_passed(live_server, settings):
    settings.SCIM_BRAKE_MINIMUM = 1
    _connection, token = scim_account("Patient MSP", brake=0)
    client = scim_client(live_server, token)
    ids = [client.create(ann(user_name=f"w{n}@cloud.example", external_id=f"w{n}", forwarding=(), emails=[
        Email(value=f"w{n}@cloud.example", primary=True)])).id for n in range(3)]
    client.delete(PortalUser, ids[0])

    assert client.client.delete(f"/Users/{ids[1]}").status_code == 409
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61), tick=False):
        assert client.client.delete(f"/Users/{ids[1]}").status_code == 204
        assert client.client.delete(f"/Users/{ids[2]}").status_code == 409
