"""In Chromium: an admin signs in to the Django admin and sees the partners list."""

import pytest

from tests.accounts.factories import PASSWORD, AdminFactory, UserFactory
from tests.onboarding.factories import PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_signs_in_to_the_admin_and_sees_the_partners(live_server, page):
    admin = AdminFactory(display_email="Ada@Vendor.example")
    PartnerFactory(name="Northwind MSP")
    PartnerFactory(name="Contoso Reseller")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ada@VENDOR.example")  # any spelling of the address
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Partners", exact=True).click()
    page.wait_for_url(f"{live_server.url}/admin/onboarding/partner/")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert sorted(rows.locator("th a").all_inner_texts()) == ["Contoso Reseller", "Northwind MSP"]
    assert admin.get_short_name() in page.locator("#user-tools").text_content()


def test_partner_staff_cannot_enter_the_admin(live_server, page):
    staff = UserFactory()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    assert page.url.startswith(f"{live_server.url}/admin/login/")
    assert "staff account" in page.locator(".errornote").inner_text()


def test_partner_staff_sign_in_and_see_their_dashboard_on_a_phone(live_server, phone_page):
    staff = UserFactory(partner=PartnerFactory(name="Phone Partner Ltd"))
    phone_page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in phone_page.url
    phone_page.fill("input[name=username]", staff.email)
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.click("button[type=submit]")
    phone_page.wait_for_url(f"{live_server.url}/")
    assert phone_page.locator("h1").inner_text() == "Phone Partner Ltd"
    # Nothing overflows a phone-width screen.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
