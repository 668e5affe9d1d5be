"""In Chromium: a partner admin pages and filters the partner page's lists with a few hundred requested people; each
list's filter keeps the others' filters and pages, says how many match, and clears."""

import re

import pytest
from django.utils import timezone

from core.emails import normalize_email
from onboarding.models import ItemState, RequestItem
from tests.accounts.factories import PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.onboarding.factories import PortalUserRequestFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLE = 300


def acme_with_people():
    """Acme and its partner admin; 300 people requested in one list: "Pat <i>" and "Jo <i>" in turn, every third
    accepted, the others waiting for a decision."""
    partner = PartnerFactory(slug="acme", name="Acme MSP")
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner)
    portal_request = PortalUserRequestFactory(partner=partner, submitted_by=admin)
    now = timezone.now()
    RequestItem.objects.bulk_create(
        RequestItem(request=portal_request, partner=partner, name=f"{'Pat' if i % 2 == 0 else 'Jo'} {i:03d}",
                    display_email=(email := f"{'pat' if i % 2 == 0 else 'jo'}{i:03d}@acme.example"),
                    email=normalize_email(email),
                    state=ItemState.ACCEPTED if i % 3 == 0 else ItemState.SUBMITTED,
                    decided_at=now if i % 3 == 0 else None)
        for i in range(PEOPLE))
    return partner, admin


def shown_names(section) -> list[str]:
    return section.locator("tbody tr td:first-child a").all_inner_texts()


def test_a_partner_admin_pages_and_filters_the_partner_page(live_server, browser, client):
    _, admin = acme_with_people()
    login_with_second_factor(client, admin)
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/partners/acme/")

    requested = page.locator("section#requested")
    assert "(300)" in requested.locator("h2").inner_text()
    assert "Page 1 of 12" in requested.locator("nav.pagination").inner_text()
    requested.get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r"requested=2#requested$"))
    assert "Page 2 of 12" in requested.locator("nav.pagination").inner_text()

    # Filter everyone requested: Pat's still waiting. The list starts again on its first page. The filter is folded
    # away until it is asked for.
    search = page.get_by_role("search", name="Filter everyone requested")
    assert not search.is_visible()
    requested.get_by_text("Search and filter").click()
    search.get_by_label("Name or address starts with").fill("pat")
    search.get_by_label("State").select_option(label="Submitted")
    search.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"requested-q=pat.*#requested$"))
    assert "requested=2" not in page.url
    assert "100 of 300 match." in requested.get_by_role("status").inner_text()
    names = shown_names(requested)
    assert len(names) == 25 and all(name.startswith("Pat ") for name in names)
    assert "Page 1 of 4" in requested.locator("nav.pagination").inner_text()

    # Its pages keep the filter.
    requested.get_by_role("link", name="Last").click()
    page.wait_for_url(re.compile(r"requested=4#requested$"))
    assert "Page 4 of 4" in requested.locator("nav.pagination").inner_text()
    assert all(name.startswith("Pat ") for name in shown_names(requested))

    # Filtering another list keeps this one's filter and page; nothing matching says so, and offers to clear.
    pending = page.locator("section#pending")
    pending_search = page.get_by_role("search", name="Filter the pending requests")
    pending.get_by_text("Search and filter").click()
    pending_search.get_by_label("Name or address starts with").fill("nobody")
    pending_search.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"pending-q=nobody.*#pending$"))
    assert "Nothing matches this filter (0 of 200)." in pending.inner_text()
    assert "Page 4 of 4" in requested.locator("nav.pagination").inner_text()
    pending.get_by_role("link", name="Clear the filter").click()
    page.wait_for_url(re.compile(r"#pending$"))
    assert "pending-q" not in page.url and "requested-q=pat" in page.url
    assert not pending_search.is_visible() and search.is_visible()  # folded again; the one in use stays open
    assert len(pending.locator("tbody tr").all()) == 25
    assert "100 of 300 match." in requested.get_by_role("status").inner_text()
    context.close()
