"""Accepting an invitation through SAML single sign-on, against the suite's real SAML identity provider."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.core import mail

from accounts import sso
from accounts.models import User
from onboarding.models import InviteState, ItemState
from onboarding.services.requests import request_submit
from onboarding.services.review import request_item_approve
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.onboarding.invite_links import ACCEPT, invite_open, mailed_code
from tests.partners.factories import AgreementFactory
from tests.saml.saml_flow import ANN, at_idp, finish, post_to_acs, saml_partner, signed_in_pk

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BOB = "bob@acme-saml.example"


@pytest.fixture
def invited(idp):
    """Ann of an account that enforces SAML single sign-on, requested and approved: (her item, her mailed code)."""
    partner = saml_partner(idp, enforced=True)
    partner.account_manager = AccountManagerFactory()
    partner.save()
    AgreementFactory(partner=partner)
    requester = PartnerAdminFactory(partner=partner, display_email=BOB)
    item = request_submit(partner=partner, actor=requester, rows=[("Ann", ANN)]).items.get()
    request_item_approve(item=item, actor=partner.account_manager)
    body = next(m.body for m in mail.outbox if m.to == [ANN])
    return item, mailed_code(body)


def accept_through_saml(client, idp, code: str):
    """Open the invitation, choose single sign-on, answer at the identity provider: the page it ends on."""
    page = invite_open(client, code)
    assert page.request["PATH_INFO"] == ACCEPT
    assert "Accept with single sign-on" in page.content.decode()
    to_sso = client.post(ACCEPT, {"sso": "1"})
    assert to_sso["Location"] == "/accounts/sso/start/"
    to_idp = client.get(to_sso["Location"])
    return finish(client, post_to_acs(at_idp(idp, to_idp["Location"])))


def test_the_invited_person_accepts_through_saml_and_is_signed_in(client, idp, invited):
    item, code = invited
    idp.answer(email=ANN)
    landed = accept_through_saml(client, idp, code)
    assert landed.status_code == 200
    item.refresh_from_db()
    assert item.state == ItemState.ACCEPTED
    assert item.invites.get().state == InviteState.ACCEPTED
    ann = User.objects.get(email=ANN)
    assert ann.is_active and not ann.has_usable_password()
    assert signed_in_pk(client) == str(ann.pk)
    assert client.session[BACKEND_SESSION_KEY] == sso.SAML_BACKEND  # signed in as SAML verified her


def test_someone_else_at_the_identity_provider_cannot_accept_the_invitation(client, idp, invited):
    item, code = invited
    idp.answer(email=BOB)  # Bob has his own portal account
    accept_through_saml(client, idp, code)
    item.refresh_from_db()
    assert item.state == ItemState.INVITED and item.invites.get().state == InviteState.SENT
    assert not User.objects.get(email=ANN).is_active
    assert signed_in_pk(client) == str(User.objects.get(email=BOB).pk)  # himself, never Ann
