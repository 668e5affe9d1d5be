"""In Chromium, by keyboard alone (Tab, Enter, Space and typing; no clicks): a partner admin signs in and
requests a person, the account manager signs in with a second factor and approves, and the person opens
the link of their welcome mail and sets a password. Every stop shows a visible focus, and the skip link
takes the focus past the header. axe-core checks each page on the way (tests/browser/conftest.py)."""

import re
import time

import pytest

from accounts.models import TOTPDevice
from onboarding.models import ItemState, RequestItem
from partners.models import PartnerKind
from tests.accounts.factories import PASSWORD, AccountManagerFactory, PartnerAdminFactory
from tests.conftest import totp_code
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = "(selector) => document.activeElement !== null && document.activeElement.matches(selector)"
# A keyboard user must see where the focus is (WCAG 2.4.7): an outline or a box shadow on the element.
FOCUS_SHOWN = """() => {
  const style = getComputedStyle(document.activeElement);
  return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
}"""


def focused(page, selector: str) -> bool:
    """Whether `selector` has the focus, once the page has settled (a redirect may still be under way)."""
    for _ in range(3):
        page.wait_for_load_state()
        try:
            return page.evaluate(FOCUSED, selector)
        except Exception as exc:  # the document was replaced while asked: ask the new one
            if "destroyed" not in str(exc):
                raise
    return page.evaluate(FOCUSED, selector)


def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the element `selector` has the focus (it may have it already: autofocus)."""
    for _ in range(limit):
        if focused(page, selector):
            assert page.evaluate(FOCUS_SHOWN), f"the focus on {selector} is not visible"
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab on {page.url}")


def sign_in(page, url: str, email: str, password: str, device: TOTPDevice | None = None) -> None:
    page.goto(f"{url}/accounts/login/")
    tab_to(page, "input[name=email]")
    page.keyboard.type(email)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/accounts/login/password/")
    tab_to(page, "input[name=password]")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    if device is not None:
        page.wait_for_url(f"{url}/accounts/login/verify/")
        tab_to(page, "input[name=token]")
        page.keyboard.type(totp_code(device.bin_key, at=time.time()))
        page.keyboard.press("Enter")
    page.wait_for_url(lambda address: "/accounts/login" not in address)
    page.wait_for_load_state()


def follow(page, selector: str) -> None:
    """Tab to a link (or a button) and follow it with Enter, to the next page."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()


def sign_out(page) -> None:
    follow(page, "nav button[type=submit]")


def test_request_approval_and_acceptance_by_keyboard_alone(live_server, page, browser, settings, mailoutbox):
    settings.PORTAL_URL = live_server.url
    manager = AccountManagerFactory()
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    partner = PartnerFactory(slug="resell", name="Resell GmbH", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner)

    # The partner admin: sign in, from the header to the partner's page, to the request form.
    sign_in(page, live_server.url, admin.email, PASSWORD)
    page.keyboard.press("Tab")
    assert focused(page, "a.skip-link"), "the skip link is not the first stop"
    assert page.locator("a.skip-link").is_visible()
    follow(page, "nav a[href='/partners/resell/']")
    follow(page, "a[href='/partners/resell/requests/new/']")
    tab_to(page, "input[name=rows-0-name]")
    page.keyboard.type("Rosa Rot")
    tab_to(page, "input[name=rows-0-email]")
    page.keyboard.type("rosa@resell.example")
    tab_to(page, "select[name=rows-0-role]")
    follow(page, "button[name=submit]")
    page.wait_for_selector("#items >> text=rosa@resell.example")
    sign_out(page)

    # The account manager: sign in with a code, to the review queue, choose everyone, approve.
    sign_in(page, live_server.url, manager.email, PASSWORD, device=device)
    follow(page, "nav a[href='/review/']")
    tab_to(page, "a.skip-link")  # past the header straight to the queue
    page.keyboard.press("Enter")
    assert focused(page, "main#content")
    tab_to(page, "input[data-choose-all]")
    page.keyboard.press("Space")
    assert page.locator("input[name=item]").first.is_checked()
    follow(page, "button[value=approve]")
    page.wait_for_selector("text=approved")
    assert RequestItem.objects.get().state == ItemState.ACCOUNT_CREATED

    # The person: the link of the welcome mail (typed into the address bar), a password twice, Enter.
    welcome = next(m for m in mailoutbox if "rosa@resell.example" in m.to)
    link = re.search(r"https?://\S+/invite/#[\w-]+", welcome.body).group(0)
    rosa = browser.new_context().new_page()
    rosa.goto(link)
    rosa.wait_for_url(f"{live_server.url}/invite/accept/")
    tab_to(rosa, "input[name=password]")
    rosa.keyboard.type("violet-harbour-lantern-42")
    tab_to(rosa, "input[name=password2]")
    rosa.keyboard.type("violet-harbour-lantern-42")
    follow(rosa, "button[type=submit]")
    rosa.wait_for_url(f"{live_server.url}/")
    assert RequestItem.objects.get().state == ItemState.ACCEPTED
