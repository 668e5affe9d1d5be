"""In Chromium: SAML single sign-on from the email step through the real SAML identity provider and back.

The identity provider is the suite's (tests/saml_idp.py, `saml_idp`): its page posts the signed answer to the
portal's ACS by itself, as Entra ID, Okta and AD FS do. The partner is set up as in tests/saml/.
"""

import pytest
from django.core.cache import cache

from accounts import sso
from tests.accounts.factories import UserFactory
from tests.saml.saml_flow import ALIAS, ANN, saml_partner

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ann(page, live_server, saml_idp, settings):  # `page` first: it allows ORM calls next to Playwright's event loop
    settings.PORTAL_URL = live_server.url  # the entity ID and ACS the identity provider is given
    saml_idp.reset()
    cache.clear()
    partner = saml_partner(saml_idp, enforced=True)
    yield UserFactory(partner=partner, display_email=ANN, full_name="Ann Partner")
    saml_idp.reset()
    cache.clear()


def type_email(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()


def test_the_email_step_goes_through_the_identity_provider_and_back_signed_in(live_server, saml_idp, page, ann):
    saml_idp.answer(email=ANN)
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))

    type_email(page, live_server.url, ANN)
    page.wait_for_url(f"{live_server.url}/")

    assert "Ann Partner" in page.locator(".who").inner_text()
    assert any(url.startswith(f"{saml_idp.url}/sso?") for url in visited)
    assert f"{live_server.url}/accounts/saml/{ann.partner.slug}/acs/" in visited


def test_an_alias_is_refused_with_the_reason_on_the_sign_in_page(live_server, saml_idp, page, ann):
    saml_idp.answer(email=ALIAS)

    type_email(page, live_server.url, ANN)
    page.wait_for_url(f"{live_server.url}/accounts/login/")

    assert str(sso.NOT_PRIMARY) in page.locator(".messages").inner_text()
    assert page.locator(".who").count() == 0
