"""The API's invites through a real HTTP client against the live server: a partner's invites for everyone who sees
the partner, resending and revoking for its account manager and admins (as the partner page's buttons), audited
with the token; another partner's invites are not found."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiTokenScope
from core.models import AuditEvent
from onboarding.models import Invite, InviteState, ItemState
from onboarding.services.review import request_item_approve
from tests.accounts.factories import AdminFactory
from tests.api.conftest import token_for
from tests.api.requests_world import ROLES, client_of, msp_partner, queries_of, submitted
from tests.onboarding.factories import InviteFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def msp():
    return msp_partner()


def invited(partner, email: str = "Ada.Lovelace@Partner.example") -> Invite:
    """Approve a requested person of the partner's directory: their invite is made and mailed."""
    [item] = submitted(partner, email)
    request_item_approve(item=item, actor=partner.account_manager)
    return Invite.objects.get(item=item)


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, [200, 200, 200, 404, 200], strict=True)))
def test_a_partners_invites_are_listed_for_who_sees_the_partner(api_as, msp, role, expected):
    invite = invited(msp)
    response = client_of(api_as, role, msp, scope=ApiTokenScope.READ).get(f"/partners/{msp.slug}/invites/")
    assert response.status_code == expected
    if expected == 200:
        [row] = response.json()["results"]
        assert (row["id"], row["email"], row["kind"], row["state"], row["item"]) == (
            invite.pk, "Ada.Lovelace@Partner.example", "invite", "sent", invite.item_id)
        assert row["sent_at"] and row["expires_at"]


def test_the_invites_are_filtered_by_state_and_name_and_come_a_page_at_a_time(api_as, msp):
    ada, grace = invited(msp), invited(msp, "grace@partner.example")
    Invite.objects.filter(pk=grace.pk).update(state=InviteState.FAILED)
    client = client_of(api_as, "partner_admin", msp)
    failed = client.get(f"/partners/{msp.slug}/invites/", params={"state": "failed"}).json()["results"]
    assert [row["id"] for row in failed] == [grace.pk]
    found = client.get(f"/partners/{msp.slug}/invites/", params={"q": "ada"}).json()["results"]
    assert [row["id"] for row in found] == [ada.pk]
    first = client.get(f"/partners/{msp.slug}/invites/", params={"page_size": 1}).json()
    second = client.get(first["next"].split("/api/v1", 1)[1]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == [grace.pk, ada.pk]
    assert client.get(f"/partners/{msp.slug}/invites/", params={"state": "lost"}).status_code == 400


def test_another_partners_invites_are_not_found(api_as, msp):
    other = msp_partner()
    theirs = invited(other)
    client = client_of(api_as, "account_manager", msp)
    assert client.get(f"/partners/{other.slug}/invites/").status_code == 404
    assert client.post(f"/invites/{theirs.pk}/resend/").status_code == 404
    assert client.post(f"/invites/{theirs.pk}/revoke/").status_code == 404
    assert client.post("/invites/999999/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == InviteState.SENT


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, [403, 403, 200, 404, 200], strict=True)))
def test_who_may_resend_an_invite_is_who_has_the_partner_pages_button(api_as, msp, role, expected):
    invite = invited(msp)
    old_hash = invite.token_hash
    response = client_of(api_as, role, msp).post(f"/invites/{invite.pk}/resend/")
    assert response.status_code == expected, response.text
    invite.refresh_from_db()
    if expected == 200:
        assert response.json()["id"] == invite.pk and invite.token_hash != old_hash
        [event] = AuditEvent.objects.filter(action="invite.resent")
        assert event.data["api_token"]["name"] == "tests" and event.target_id == str(invite.pk)
    else:
        assert invite.token_hash == old_hash and not AuditEvent.objects.filter(action="invite.resent").exists()


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, [403, 403, 200, 404, 200], strict=True)))
def test_who_may_revoke_an_invite_is_who_has_the_partner_pages_button(api_as, msp, role, expected):
    invite = invited(msp)
    response = client_of(api_as, role, msp).post(f"/invites/{invite.pk}/revoke/")
    assert response.status_code == expected, response.text
    invite.refresh_from_db()
    if expected == 200:
        assert response.json()["state"] == "revoked" and invite.state == InviteState.REVOKED
        assert invite.item.state == ItemState.REVOKED
        [event] = AuditEvent.objects.filter(action="invite.revoked")
        assert event.data["api_token"]["prefix"]
    else:
        assert invite.state == InviteState.SENT


def test_a_revoked_invite_cannot_be_revoked_again_but_can_be_resent(api_as, msp):
    invite = invited(msp)
    client = api_as(AdminFactory())
    assert client.post(f"/invites/{invite.pk}/revoke/").status_code == 200
    again = client.post(f"/invites/{invite.pk}/revoke/")
    assert again.status_code == 409 and again.json()["detail"] == "This invite is revoked: it cannot be revoked."
    assert client.post(f"/invites/{invite.pk}/resend/").status_code == 409
    assert AuditEvent.objects.filter(action="invite.revoked").count() == 1


def test_a_read_token_may_neither_resend_nor_revoke(api_as, msp):
    invite = invited(msp)
    client = api_as(msp.account_manager, scope=ApiTokenScope.READ)
    assert client.post(f"/invites/{invite.pk}/resend/").status_code == 403
    assert client.post(f"/invites/{invite.pk}/revoke/").status_code == 403
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT


def test_a_retried_resend_with_the_same_key_sends_one_new_link(api_as, msp):
    invite = invited(msp)
    client = api_as(msp.account_manager)
    key = {"Idempotency-Key": "resend-ada"}
    first = client.post(f"/invites/{invite.pk}/resend/", headers=key)
    again = client.post(f"/invites/{invite.pk}/resend/", headers=key)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert AuditEvent.objects.filter(action="invite.resent").count() == 1


def test_the_invites_cost_the_same_queries_for_few_and_many(msp):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(msp.account_manager)}")
    invited(msp)
    path = f"/api/v1/partners/{msp.slug}/invites/"
    queries_of(client, path)  # the token's first use notes it
    few = queries_of(client, path)
    InviteFactory.create_batch(5, partner=msp)
    assert Invite.objects.count() == 6 and queries_of(client, path) == few
