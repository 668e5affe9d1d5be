"""In Chromium: single sign-on through the real OpenID Connect provider's login page and back.

The provider is the suite's (tests/oidc.py, `oidc_provider`); the partner, its domain
partner-sso.example and its directory are set up as in tests/accounts/test_sso.py.
"""

import pytest
from django.core.cache import cache

from accounts import errors
from accounts.models import TOTPDevice
from partners.models import AccountSettings, TwoFactorPolicy
from tests.accounts.factories import UserFactory
from tests.accounts.test_sso import sso_directory, sso_partner
from tests.conftest import free_port, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = "alice@partner-sso.example"


@pytest.fixture(autouse=True)
def _no_cached_discovery():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(page, oidc_provider):  # `page` first: it allows ORM calls next to Playwright's event loop
    partner = sso_partner(oidc_provider)
    sso_directory(partner)
    return UserFactory(partner=partner, display_email=ALICE, full_name="Alice Partner")


def type_email(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()


def sign_in_at_provider(page, provider, username: str) -> None:
    page.wait_for_url(lambda url: url.startswith(f"http://127.0.0.1:{provider.port}/"))
    page.fill("#id_username", username)
    page.fill("#id_password", provider.user(username)["password"])
    page.click("#idp-login")


def test_the_sso_link_of_the_password_step_signs_in_at_the_provider(live_server, oidc_provider, page, alice):
    type_email(page, live_server.url, ALICE)
    page.wait_for_url(f"{live_server.url}/accounts/login/password/")
    assert page.locator("input[name=password]").is_visible()

    page.click("#sso-continue")
    sign_in_at_provider(page, oidc_provider, "alice")

    page.wait_for_url(f"{live_server.url}/")
    assert "Alice Partner" in page.locator(".who").inner_text()


def test_enforced_sso_goes_from_the_email_step_to_the_provider(live_server, oidc_provider, page, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(sso_enforced=True)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    type_email(page, live_server.url, ALICE)
    sign_in_at_provider(page, oidc_provider, "alice")
    page.wait_for_url(f"{live_server.url}/")

    assert f"{live_server.url}/accounts/login/password/" not in requested
    assert "Alice Partner" in page.locator(".who").inner_text()


def test_an_unverified_address_is_refused_with_the_reason(live_server, oidc_provider, page, alice):
    UserFactory(partner=alice.partner, display_email="unverified@partner-sso.example")

    type_email(page, live_server.url, "unverified@partner-sso.example")
    page.click("#sso-continue")
    sign_in_at_provider(page, oidc_provider, "unverified")

    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert "has not verified your email address" in page.locator(".messages").inner_text()
    assert page.locator(".who").count() == 0  # nobody signed in


def test_an_unreachable_provider_is_reported_on_the_sign_in_page(live_server, oidc_provider, page, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(sso_issuer=f"http://127.0.0.1:{free_port()}/o")

    type_email(page, live_server.url, ALICE)
    page.click("#sso-continue")

    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert page.locator(".messages").inner_text() == errors.SSO_UNAVAILABLE
    assert page.locator(".who").count() == 0


def test_required_two_factor_asks_for_the_code_after_the_provider(live_server, oidc_provider, page, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(two_factor_policy=TwoFactorPolicy.REQUIRED)
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)

    type_email(page, live_server.url, ALICE)
    page.click("#sso-continue")
    sign_in_at_provider(page, oidc_provider, "alice")
    page.wait_for_url(f"{live_server.url}/accounts/login/verify/")
    page.fill("input[name=token]", totp_code(device.bin_key))
    page.get_by_role("button", name="Verify").click()

    page.wait_for_url(f"{live_server.url}/")
    assert "Alice Partner" in page.locator(".who").inner_text()
