"""In Chromium: vendor staff sign in with their second factor and reach the Django admin."""

import time

import pytest

from accounts.models import TOTPDevice
from tests.accounts.factories import PASSWORD, AdminFactory, UserFactory
from tests.conftest import totp_code
from tests.partners.factories import PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_first_factor(page, url, email):
    page.goto(f"{url}/admin/")
    assert "/accounts/login/" in page.url  # the admin sends people to the portal's sign-in
    page.fill("input[name=email]", email)
    page.click("button[type=submit]")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_admin_enrols_an_authenticator_at_first_sign_in_then_sees_the_partners(live_server, page):
    admin = AdminFactory(display_email="Ada@Vendor.example")
    PartnerFactory(name="Northwind MSP")
    PartnerFactory(name="Contoso Reseller")

    sign_in_first_factor(page, live_server.url, "ada@VENDOR.example")  # any spelling of the address
    page.wait_for_url(f"{live_server.url}/accounts/two-factor/setup/")
    assert "requires a second factor" in page.content()
    page.goto(f"{live_server.url}/admin/")  # nothing else is reachable before enrolling
    assert page.url == f"{live_server.url}/accounts/two-factor/setup/"

    page.fill("input[name=token]", totp_code(page.inner_text("#totp-secret")))
    page.get_by_role("button", name="Turn on two-factor").click()
    page.wait_for_url(f"{live_server.url}/accounts/two-factor/backup-codes/")
    assert page.locator("#backup-codes li").count() == 10

    page.get_by_role("link", name="Done").click()  # on to the admin, where the sign-in started
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Partners", exact=True).click()
    page.wait_for_url(f"{live_server.url}/admin/partners/partner/")
    rows = page.locator("#result_list tbody tr")
    assert sorted(rows.locator("th a").all_inner_texts()) == ["Contoso Reseller", "Northwind MSP"]
    assert admin.get_short_name() in page.locator("#user-tools").text_content()


def test_admin_with_an_authenticator_gives_a_code_at_sign_in(live_server, page):
    admin = AdminFactory()
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    sign_in_first_factor(page, live_server.url, admin.email)
    page.wait_for_url(f"{live_server.url}/accounts/login/verify/")
    page.fill("input[name=token]", "000000" if totp_code(device.bin_key) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("text=That code is not right")
    page.wait_for_timeout(1100)  # django-otp makes a second try wait 2**(failures-1) seconds
    page.fill("input[name=token]", totp_code(device.bin_key, at=time.time()))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "Site administration" in page.content() or "Partners" in page.content()


def test_partner_staff_cannot_enter_the_admin(live_server, page):
    staff = UserFactory()
    sign_in_first_factor(page, live_server.url, staff.email)
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/" not in page.url or "/accounts/login/" in page.url


def test_partner_staff_sign_in_and_see_their_dashboard_on_a_phone(live_server, phone_page):
    staff = UserFactory(partner=PartnerFactory(name="Phone Partner Ltd"))
    phone_page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in phone_page.url
    phone_page.fill("input[name=email]", staff.email)
    phone_page.click("button[type=submit]")
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.click("button[type=submit]")
    phone_page.wait_for_url(f"{live_server.url}/")  # the default policy (optional) does not stop anyone
    assert phone_page.locator("h1").inner_text() == "Phone Partner Ltd"
    # Nothing overflows a phone-width screen.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
