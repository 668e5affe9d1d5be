"""What a SCIM change means beyond the directory: a held request is released when its person is provisioned (R9),
and a deprovisioned person's portal session ends (deactivated or deleted), as after a sync."""

import pytest
from django.core import mail
from django.test import Client
from scim2_models import Email

from accounts.errors import AccessRefused
from accounts.models import User
from accounts.services.access import user_reactivate
from directory_sync.scim.resources import PortalUser
from onboarding.models import Invite, ItemState
from onboarding.services.review import request_item_approve
from tests.accounts.factories import UserFactory
from tests.onboarding.factories import RequestItemFactory

pytestmark = pytest.mark.django_db(transaction=True)

SCIM_JSON = "application/scim+json"


def hana(**changes) -> PortalUser:
    fields = {"user_name": "hana@held.example", "display_name": "Hana Held", "active": True,
              "emails": [Email(value="hana@held.example", type="work", primary=True)]}
    return PortalUser(**{**fields, **changes})


def test_a_held_request_is_released_and_invited_when_its_person_is_provisioned(scim, account):
    partner = account[0].partner
    item = RequestItemFactory(request__partner=partner, name="Hana Held", display_email="Hana@Held.example")
    request_item_approve(item=item, actor=partner.account_manager)
    item.refresh_from_db()
    assert item.state == ItemState.AWAITING_VALIDATION

    scim.create(hana())

    item.refresh_from_db()
    assert item.state == ItemState.INVITED
    assert Invite.objects.filter(item=item).exists()
    assert [m.subject for m in mail.outbox if m.to == ["Hana@Held.example"]] == [
        f"Your invitation to the Partner Portal ({partner.name})"]


def test_a_request_stays_held_while_its_person_is_provisioned_inactive(scim, account):
    partner = account[0].partner
    item = RequestItemFactory(request__partner=partner, name="Hana Held", display_email="hana@held.example")
    request_item_approve(item=item, actor=partner.account_manager)

    scim.create(hana(active=False))

    item.refresh_from_db()
    assert item.state == ItemState.AWAITING_VALIDATION


def signed_in_client(person: User) -> Client:
    client = Client()
    client.force_login(person)
    assert client.get("/").status_code == 200
    return client


def test_deactivation_ends_the_portal_users_access_and_session(scim, account):
    created = scim.create(hana())
    person = UserFactory(partner=account[0].partner, display_email="hana@held.example")
    client = signed_in_client(person)

    answer = scim.client.patch(f"/Users/{created.id}", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}]})

    assert answer.status_code == 200
    person.refresh_from_db()
    assert not person.is_active and person.access_ended
    assert client.get("/").status_code == 302


def test_deletion_ends_the_portal_users_access_and_session(scim, account):
    created = scim.create(hana())
    person = UserFactory(partner=account[0].partner, display_email="hana@held.example")
    client = signed_in_client(person)

    scim.delete(PortalUser, created.id)

    person.refresh_from_db()
    assert not person.is_active and person.access_ended
    assert client.get("/").status_code == 302


def test_a_person_reactivated_by_the_provider_can_have_their_portal_access_given_back(scim, account):
    created = scim.create(hana())
    person = UserFactory(partner=account[0].partner, display_email="hana@held.example")
    scim.client.patch(f"/Users/{created.id}", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}]})
    person.refresh_from_db()
    with pytest.raises(AccessRefused):
        user_reactivate(user=person, actor=account[0].partner.account_manager)

    scim.client.patch(f"/Users/{created.id}", headers={"Content-Type": SCIM_JSON}, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": True}}]})

    person.refresh_from_db()
    assert not person.is_active  # not reopened by itself
    assert user_reactivate(user=person, actor=account[0].partner.account_manager).is_active
    assert signed_in_client(person)
