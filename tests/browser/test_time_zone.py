"""In Chromium set to Berlin time: on first sign-in the browser's zone is proposed and kept, and from then on the
pages show times in it, the zone named; a zone chosen on the security page wins over the browser's."""

import datetime

import pytest

from accounts.models import User
from core.models import AuditEvent
from tests.accounts.factories import PASSWORD, PartnerAdminFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def berlin_page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800}, timezone_id="Europe/Berlin")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.refused = []
    page.on("console", lambda message: page.refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    yield page
    context.close()


def sign_in(page, url, email):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(lambda response: response.url.endswith("/accounts/time-zone/propose/")) as proposed:
        page.get_by_role("button", name="Sign in").click()
    return proposed.value


def test_the_browsers_zone_is_kept_on_first_sign_in_and_times_are_shown_in_it(live_server, berlin_page):
    page, url = berlin_page, live_server.url
    partner = PartnerFactory(slug="acme", name="Acme MSP")
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example", time_zone="")
    PartnerAdminFactory(partner=partner, full_name="Kim Lee",
                        last_login=datetime.datetime(2026, 1, 15, 8, 30, tzinfo=datetime.UTC))

    proposed = sign_in(page, url, admin.email)
    assert proposed.json() == {"kept": True, "time_zone": "Europe/Berlin"}
    assert User.objects.get(pk=admin.pk).time_zone == "Europe/Berlin"
    assert AuditEvent.objects.filter(action="user.time_zone_proposed", actor=admin).count() == 1
    page.locator("#time-zone-note-text", has_text="Europe/Berlin").wait_for()  # the page drawn before says when

    page.goto(f"{url}/partners/acme/access/")
    kim = page.get_by_role("row").filter(has_text="Kim Lee")
    assert kim.locator("time").inner_text() == "2026-01-15 09:30 CET"
    assert kim.locator("time").get_attribute("datetime") == "2026-01-15T09:30:00+01:00"
    assert page.locator("#time-zone-note").inner_text().startswith("Times are shown in Europe/Berlin.")
    assert page.locator("script[src*='time-zone.js']").count() == 0  # chosen now: nothing proposed again
    assert page.refused == []


def test_a_zone_chosen_on_the_security_page_wins_over_the_browsers(live_server, berlin_page):
    page, url = berlin_page, live_server.url
    partner = PartnerFactory(slug="acme", name="Acme MSP")
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example", time_zone="")
    PartnerAdminFactory(partner=partner, full_name="Kim Lee",
                        last_login=datetime.datetime(2026, 7, 15, 8, 30, tzinfo=datetime.UTC))
    sign_in(page, url, admin.email)

    page.get_by_role("link", name="Change time zone").click()
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Save time zone").click()
    assert "Times are now shown in America/New_York." in page.locator(".messages").inner_text()
    assert User.objects.get(pk=admin.pk).time_zone == "America/New_York"

    page.goto(f"{url}/partners/acme/access/")
    assert page.get_by_role("row").filter(has_text="Kim Lee").locator("time").inner_text() == "2026-07-15 04:30 EDT"
    assert page.refused == []
