"""In Chromium, what axe-core alone does not prove: a form's errors are tied to their fields and the first
gets the focus; at phone width "Choose all" stays, a cell without a label gets no stray ": ", and the
review boxes are at least 24 x 24 px."""

import pytest

from directory_sync.models import DirectoryConnection, SourceKind
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACTIVE_ID = "() => document.activeElement.id"


def sign_in_browser(page, client, user, url: str) -> None:
    """Carry a test client's session (signed in, second factor given) into the browser."""
    login_with_second_factor(client, user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])


def test_a_form_error_is_tied_to_its_field_which_gets_the_focus(live_server, page, client):
    partner = PartnerFactory(slug="acme")
    DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    sign_in_browser(page, client, PartnerAdminFactory(partner=partner), live_server.url)

    page.goto(f"{live_server.url}/partners/acme/directory/add/")
    page.get_by_role("button", name="Add").click()  # no primary address
    page.wait_for_load_state()  # the page's deferred script has run

    primary = page.locator("#id_primary")
    assert page.evaluate(ACTIVE_ID) == "id_primary"
    assert primary.get_attribute("aria-invalid") == "true"
    described = primary.get_attribute("aria-describedby").split()
    assert "id_primary_error" in described
    assert "A primary address is needed." in page.inner_text("#id_primary_error")


def test_the_review_queue_at_phone_width(live_server, phone_page, client):
    manager = AccountManagerFactory()
    partner = PartnerFactory(slug="acme", account_manager=manager)
    AgreementFactory(partner=partner)
    request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner),
                   rows=[("Jo Newman", "jo@acme.example"), ("Kim Lee", "kim@acme.example")])
    sign_in_browser(phone_page, client, manager, live_server.url)

    phone_page.goto(f"{live_server.url}/review/")
    choose_all = phone_page.get_by_label("Choose all")
    assert choose_all.is_visible()
    choose_all.check()
    assert all(box.is_checked() for box in phone_page.locator("input[name=item]").all())

    box = phone_page.locator("input[name=item]").first.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    # The checkbox cell has no label: nothing (no ": ") is put before it.
    before = phone_page.locator("input[name=item]").first.evaluate(
        "box => getComputedStyle(box.closest('td'), '::before').content")
    assert before in ("none", "normal", "")
    labelled = phone_page.locator("td[data-label]").first.evaluate(
        "cell => getComputedStyle(cell, '::before').content")
    assert labelled.endswith(': "')
