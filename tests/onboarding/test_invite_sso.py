"""Accepting an invitation through single sign-on, against the suite's real OpenID Connect provider."""

import re

import pytest
import requests
from django.core import mail
from django.core.cache import cache

from accounts.models import User
from onboarding.models import InviteState, ItemState, RequestItem
from onboarding.services.requests import request_submit
from onboarding.services.review import request_item_approve
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.accounts.test_sso import csrf_token, signed_in_user, sso_directory, sso_partner
from tests.oidc import login_with_requests
from tests.onboarding.invite_links import ACCEPT, mailed_code
from tests.partners.factories import AgreementFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def invite_link(oidc_provider, live_server, settings):
    """Alice of an SSO-enforced MSP, requested and approved: (her item, her invitation link)."""
    cache.clear()  # discovery documents of other tests' providers
    settings.PORTAL_URL = live_server.url
    partner = sso_partner(oidc_provider, enforced=True)
    partner.account_manager = AccountManagerFactory()
    partner.save()
    AgreementFactory(partner=partner)
    sso_directory(partner)
    requester = PartnerAdminFactory(partner=partner, display_email="bob.mixed@partner-sso.example")
    item = request_submit(partner=partner, actor=requester, rows=[("Alice", "alice@partner-sso.example")]).items.get()
    request_item_approve(item=item, actor=partner.account_manager)
    body = next(m.body for m in mail.outbox if m.to == ["alice@partner-sso.example"])
    [link] = [url for url in re.findall(r"http://\S+", body) if "#" in url]
    return item, link


def accept_through_sso(oidc_provider, link: str, username: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    # What the link's page does: requests, like a browser, never sends the fragment; the page posts the code.
    entry = session.get(link, timeout=10)
    code = {"code": mailed_code(link), "csrfmiddlewaretoken": csrf_token(entry)}
    page = session.post(link.partition("#")[0], data=code, timeout=10)
    assert page.url.endswith(ACCEPT)
    assert "Accept with single sign-on" in page.text
    assert 'name="password"' not in page.text  # an account enforcing SSO sets no password
    idp_form = session.post(page.url, data={"sso": "1", "csrfmiddlewaretoken": csrf_token(page)}, timeout=10)
    return session, login_with_requests(session, idp_form, username, oidc_provider.user(username)["password"])


def test_the_invited_person_accepts_through_their_provider_and_is_signed_in(oidc_provider, live_server, invite_link):
    item, link = invite_link
    session, landed = accept_through_sso(oidc_provider, link, "alice")
    assert landed.url.startswith(live_server.url)
    item.refresh_from_db()
    assert item.state == ItemState.ACCEPTED
    assert item.invites.get().state == InviteState.ACCEPTED
    user = User.objects.get(email="alice@partner-sso.example")
    assert user.is_active and not user.has_usable_password()
    assert signed_in_user(session) == user


def test_someone_else_at_the_provider_cannot_accept_the_invitation(oidc_provider, invite_link):
    item, link = invite_link
    session, _ = accept_through_sso(oidc_provider, link, "bob")  # Bob has his own account there
    assert RequestItem.objects.get(pk=item.pk).state == ItemState.INVITED
    assert item.invites.get().state == InviteState.SENT
    assert not User.objects.get(email="alice@partner-sso.example").is_active
    assert signed_in_user(session).email == "bob.mixed@partner-sso.example"  # himself, never Alice


def test_an_unverified_address_accepts_nothing(oidc_provider, invite_link):
    item, link = invite_link
    session, landed = accept_through_sso(oidc_provider, link, "unverified")
    assert "Single sign-on did not sign you in" in landed.text
    assert item.invites.get().state == InviteState.SENT
    assert signed_in_user(session) is None
