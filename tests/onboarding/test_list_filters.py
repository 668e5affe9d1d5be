"""The lists' search boxes and filters: the partner page's lists each on its own (keeping the others' filters and
pages), the partner list and the review queue; the filtered counts, what an empty result and a value not understood
say, and the same queries with filters at two sizes."""

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onboarding.models import CheckResult, InviteState, ItemState, RequestItem, RequestSource
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

FEW, MANY = 5, 60


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


def grow(partner, n: int) -> None:
    """Top the partner's lists up to n rows of each: a list holding a pending person ("Pat <i>" or "Jo <i>" in
    turn) and an accepted one, and an invite waiting to be sent ("Inv <i>")."""
    now = timezone.now()
    for i in range(partner.requests.count(), n):
        portal_request = PortalUserRequestFactory(partner=partner, source=RequestSource.CSV if i % 2 else "form")
        first = "Pat" if i % 2 == 0 else "Jo"
        RequestItemFactory(request=portal_request, name=f"{first} {i}", display_email=f"{first}{i}@Acme.example",
                           check_result=CheckResult.PRIMARY if i % 3 else CheckResult.NOT_FOUND)
        RequestItemFactory(request=portal_request, name=f"Done {i}", display_email=f"done{i}@acme.example",
                           state=ItemState.ACCEPTED, decided_at=now)
        InviteFactory(partner=partner, name=f"Inv {i}", display_email=f"inv{i}@acme.example",
                      state=InviteState.FAILED if i % 4 == 0 else InviteState.PENDING)


def section(page: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S).group(1)


def emails(html: str) -> set[str]:
    return set(re.findall(r"[\w.]+@acme\.example", html, re.I))


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured)


# -- the partner page -------------------------------------------------------------------------------------------------

def test_pending_requests_are_searched_by_the_beginning_of_a_name_in_any_case(client, acme, manager):
    grow(acme, 10)
    client.force_login(manager)
    pending = section(page_of(client, "/partners/acme/?pending-q=pAT"), "pending")
    assert emails(pending) == {f"Pat{i}@Acme.example" for i in range(0, 10, 2)}


def test_pending_requests_are_searched_by_the_beginning_of_an_address_in_any_case(client, acme, manager):
    grow(acme, 12)
    client.force_login(manager)
    pending = section(page_of(client, "/partners/acme/?pending-q=JO1"), "pending")
    assert emails(pending) == {"Jo1@Acme.example", "Jo11@Acme.example"}


def test_the_search_matches_the_beginning_only(client, acme, manager):
    grow(acme, 4)
    client.force_login(manager)
    pending = section(page_of(client, "/partners/acme/?pending-q=at"), "pending")  # inside "Pat": no match
    assert emails(pending) == set()
    assert "Nothing matches this filter (0 of 4)." in pending


def test_everyone_requested_is_filtered_by_state(client, acme, manager):
    grow(acme, 6)
    client.force_login(manager)
    requested = section(page_of(client, "/partners/acme/?requested-state=accepted"), "requested")
    assert emails(requested) == {f"done{i}@acme.example" for i in range(6)}
    assert "6 of 12 match." in requested


def test_invites_are_filtered_by_state_and_searched(client, acme, manager):
    grow(acme, 9)
    client.force_login(manager)
    invites = section(page_of(client, "/partners/acme/?invites-state=failed"), "invites")
    assert emails(invites) == {"inv0@acme.example", "inv4@acme.example", "inv8@acme.example"}
    both = section(page_of(client, "/partners/acme/?invites-state=failed&invites-q=inv4"), "invites")
    assert emails(both) == {"inv4@acme.example"}
    assert "1 of 9 matches." in both


def test_lists_are_found_by_a_person_they_ask_for_and_by_source(client, acme, manager):
    grow(acme, 6)
    client.force_login(manager)
    wanted = acme.requests.get(items__email="jo3@acme.example")
    lists = section(page_of(client, "/partners/acme/?lists-q=jo3"), "lists")
    assert re.findall(r"/requests/(\d+)/", lists) == [str(wanted.pk)]
    csv = section(page_of(client, "/partners/acme/?lists-source=csv"), "lists")
    assert len(set(re.findall(r"/requests/(\d+)/", csv))) == 3 and "3 of 6 match." in csv


def test_the_headline_keeps_the_lists_length_and_the_filter_says_how_many_match(client, acme, manager):
    grow(acme, 30)
    client.force_login(manager)
    pending = section(page_of(client, "/partners/acme/?pending-q=pat"), "pending")
    assert 'Pending requests <span class="total">(30)</span>' in pending
    assert "15 of 30 match." in pending
    assert "Page " not in pending  # 15 people: one page of 25


def test_a_filtered_list_is_paged_and_its_page_links_keep_the_filter(client, acme, manager):
    grow(acme, 60)
    client.force_login(manager)
    first = section(page_of(client, "/partners/acme/?requested-state=submitted"), "requested")
    assert "Page 1 of 3" in first and "60 of 120 match." in first
    assert 'href="/partners/acme/?requested-state=submitted&amp;requested=2#requested" rel="next"' in first
    last = section(page_of(client, "/partners/acme/?requested-state=submitted&requested=3"), "requested")
    assert len(emails(last)) == 10 and all(e.lower().startswith(("pat", "jo")) for e in emails(last))


def test_filtering_one_list_keeps_the_others_filters_and_pages_and_starts_its_own_again(client, acme, manager):
    grow(acme, 30)
    client.force_login(manager)
    page = page_of(client, "/partners/acme/?invites=2&invites-state=pending&pending=2&pending-q=jo&people=2")
    form = re.search(r'<form method="get" action="#pending".*?</form>', section(page, "pending"), re.S).group(0)
    kept = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert kept == {"invites": "2", "invites-state": "pending", "people": "2"}  # not its own page, nor its fields
    assert 'name="pending-q" value="jo"' in form
    clear = re.search(r'<a href="([^"]+)">Clear the filter</a>', section(page, "pending")).group(1)
    assert unescape(clear) == "/partners/acme/?invites=2&invites-state=pending&people=2#pending"


def test_each_filter_has_a_search_landmark_with_labelled_fields(client, acme, manager):
    grow(acme, 3)
    client.force_login(manager)
    page = page_of(client, "/partners/acme/")
    for anchor, label in [("pending", "Filter the pending requests"), ("invites", "Filter the invites"),
                          ("requested", "Filter everyone requested"), ("lists", "Filter the lists")]:
        form = section(page, anchor)
        assert f'role="search" class="filters" aria-label="{label}"' in form
        for field in re.findall(r'<(?:input|select)[^>]* id="(id_[^"]+)"', form):
            assert f'<label for="{field}">' in form, (anchor, field)


def test_an_empty_list_shows_no_filter(client, acme, manager):
    client.force_login(manager)
    page = page_of(client, "/partners/acme/")
    assert 'role="search"' not in section(page, "pending")
    assert "Nothing is waiting." in section(page, "pending")


def test_an_empty_filtered_list_says_so_and_offers_to_clear_it(client, acme, manager):
    grow(acme, 3)
    client.force_login(manager)
    invites = section(page_of(client, "/partners/acme/?invites-q=nobody&lists=1"), "invites")
    assert "Nothing matches this filter (0 of 3)." in invites and "No invites yet." not in invites
    assert 'href="/partners/acme/?lists=1#invites">Clear the filter</a>' in invites


@pytest.mark.parametrize("query", [
    "requested-state=bogus", "pending-q=" + "p" * 101, "pending-q=%00", "pending-q=a%0Ab", "lists-source=%C2%B2",
    "invites-state=accepted",  # the invites list never shows the accepted
])
def test_a_filter_value_not_understood_is_said_and_not_applied(client, acme, manager, query):
    grow(acme, 4)
    client.force_login(manager)
    page = page_of(client, f"/partners/acme/?{query}&requested-q=pat")
    anchor = query.split("-")[0]
    assert "Not applied." in section(page, anchor)
    # The field says it is invalid and points at the message (Django's aria-describedby: <field id>_error).
    described = re.search(r'aria-invalid="true" aria-describedby="([^"]+)"', section(page, anchor)).group(1)
    assert f'<p class="error" id="{described}">' in section(page, anchor)
    assert "2 of 8 match." in section(page, "requested")  # the other filters, and the list's other fields, apply


def test_another_partners_people_never_match(client, acme, manager):
    grow(acme, 2)
    other = PartnerFactory(slug="other", account_manager=manager)
    RequestItemFactory(request=PortalUserRequestFactory(partner=other), name="Pat Other",
                       display_email="pat.other@acme.example")
    client.force_login(manager)
    assert "pat.other@" not in page_of(client, "/partners/acme/?pending-q=pat&requested-q=pat&lists-q=pat")


FILTERED = ("/partners/acme/?pending-q=pat&requested-state=submitted&requested-q=jo&invites-state=pending"
            "&invites-q=inv&lists-q=pat&lists-source=form&requested=2&pending=2")


@pytest.mark.parametrize("role", ["partner_admin", "partner_staff", "account_manager", "admin"])
def test_the_filtered_partner_page_reads_as_many_queries_for_5_rows_of_each_list_as_for_60(
        client, acme, manager, role):
    viewer = {"partner_admin": lambda: PartnerAdminFactory(partner=acme), "partner_staff": lambda: UserFactory(
        partner=acme), "account_manager": lambda: manager, "admin": AdminFactory}[role]()
    client.force_login(viewer)
    grow(acme, FEW)
    few = queries(client, FILTERED)
    grow(acme, MANY)
    many = queries(client, FILTERED)
    assert few == many
    assert queries(client, "/partners/acme/") == many  # the filters' counts join the page's one query of counts


# -- the partner list ---------------------------------------------------------------------------------------------

def partners_of(manager, n: int) -> None:
    """Up to n partners of the manager's, in turn: an MSP with a current agreement and someone waiting, a reseller
    whose agreement lapsed, an MSP without one."""
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    for i in range(manager.managed_partners.count(), n):
        kind = PartnerKind.RESELLER if i % 3 == 1 else PartnerKind.MSP
        partner = PartnerFactory(name=f"{'Beta' if i % 2 else 'Alpha'} {i:03d}", slug=f"p{i:03d}", kind=kind,
                                 account_manager=manager)
        if i % 3 == 0:
            AgreementFactory(partner=partner)
            RequestItemFactory(request=PortalUserRequestFactory(partner=partner))
        elif i % 3 == 1:
            AgreementFactory(partner=partner, valid_until=yesterday)


def names(page: str) -> set[str]:
    return set(re.findall(r"(?:Alpha|Beta) \d{3}", page))


def test_the_partner_list_is_searched_by_the_beginning_of_the_name_or_the_short_name(client, manager):
    partners_of(manager, 6)
    client.force_login(manager)
    assert names(page_of(client, "/partners/?q=beta")) == {"Beta 001", "Beta 003", "Beta 005"}
    assert names(page_of(client, "/partners/?q=P00")) == {f"{'Beta' if i % 2 else 'Alpha'} 00{i}" for i in range(6)}
    page = page_of(client, "/partners/?q=beta")
    assert "3 of 6 match." in page and 'Your partners <span class="total">(6)</span>' in page


@pytest.mark.parametrize(("query", "expected"), [
    ("kind=reseller", {"Beta 001", "Alpha 004"}),
    ("agreement=lapsed", {"Beta 001", "Alpha 004"}),
    ("agreement=none", {"Alpha 002", "Beta 005"}),
    ("agreement=current", {"Alpha 000", "Beta 003"}),
    ("pending=on", {"Alpha 000", "Beta 003"}),
    ("kind=msp&agreement=none&q=al", {"Alpha 002"}),
])
def test_the_partner_list_is_filtered(client, manager, query, expected):
    partners_of(manager, 6)
    client.force_login(manager)
    assert names(page_of(client, f"/partners/?{query}")) == expected


def test_the_partner_list_says_when_nothing_matches(client, manager):
    partners_of(manager, 3)
    client.force_login(manager)
    page = page_of(client, "/partners/?q=zzz")
    assert "Nothing matches this filter (0 of 3)." in page and "No partners are assigned" not in page
    assert '<a href="/partners/">Clear the filter</a>' in page


def test_a_partner_list_filter_not_understood_is_said_and_not_applied(client, manager):
    partners_of(manager, 3)
    client.force_login(manager)
    page = page_of(client, "/partners/?kind=<b>x</b>&q=alpha")
    assert "Not applied." in page and "<b>x</b>" not in page
    assert names(page) == {"Alpha 000", "Alpha 002"}


def test_a_filtered_partner_list_is_paged_keeping_its_filter(client, manager):
    partners_of(manager, 120)
    client.force_login(manager)
    page = page_of(client, "/partners/?q=alpha&page=2")
    assert "Page 2 of 2" in page and len(names(page)) == 10
    assert 'href="/partners/?q=alpha" rel="prev"' in page


@pytest.mark.parametrize("query", ["q=alpha", "kind=msp&agreement=current&pending=on", "agreement=lapsed&page=2"])
def test_the_filtered_partner_list_reads_as_many_queries_for_5_partners_as_for_60(client, manager, query):
    client.force_login(manager)
    partners_of(manager, FEW)
    few = queries(client, f"/partners/?{query}")
    partners_of(manager, MANY)
    assert queries(client, f"/partners/?{query}") == few


# -- the review queue -----------------------------------------------------------------------------------------------

def queue_of(manager, n: int, partner=None) -> None:
    """n people waiting (of an MSP of the manager's): "Pat <i>" or "Jo <i>" in turn, found or not in turn."""
    partner = partner or PartnerFactory(account_manager=manager, slug=f"q{n}-{manager.pk}")
    portal_request = PortalUserRequestFactory(partner=partner)
    for i in range(n):
        first = "Pat" if i % 2 == 0 else "Jo"
        RequestItemFactory(request=portal_request, name=f"{first} {i}",
                           display_email=f"{first}{i}@{partner.slug}.example",
                           check_result=CheckResult.PRIMARY if i % 2 else CheckResult.NOT_FOUND)


def chosen(page: str) -> int:
    return page.count('name="item"')


def test_the_review_queue_is_searched_by_the_beginning_of_a_name_or_an_address(client, manager):
    queue_of(manager, 10)
    client.force_login(manager)
    assert chosen(page_of(client, "/review/?q=pat")) == 5
    page = page_of(client, "/review/?q=JO3")
    assert chosen(page) == 1 and "1 of 10 matches." in page
    assert 'value="JO3"' in page and '<input type="hidden" name="q" value="JO3">' in page


def test_approving_all_that_match_a_search_approves_only_them(client, manager):
    queue_of(manager, 10)
    client.force_login(manager)
    page = page_of(client, "/review/?q=pat")
    assert "Approve all 5 people that match" in page and 'data-confirm="Approve all 5 people?"' in page
    top = re.search(r'name="seen_up_to" value="(\d+)"', page).group(1)
    response = client.post("/review/decide/", {"decision": "reject_all", "q": "pat", "seen_up_to": top,
                                               "reason": "Not staff"})
    assert response.status_code == 302 and response["Location"] == "/review/?q=pat"
    assert set(RequestItem.objects.filter(state=ItemState.REJECTED).values_list("name", flat=True)) == {
        f"Pat {i}" for i in range(0, 10, 2)}
    assert RequestItem.objects.filter(state=ItemState.SUBMITTED).count() == 5


def test_an_empty_filtered_queue_says_so_and_offers_to_clear_it(client, manager):
    queue_of(manager, 3)
    client.force_login(manager)
    page = page_of(client, "/review/?q=nobody")
    assert "Nothing matches this filter (0 of 3)." in page and "Nothing to review." not in page
    assert '<a href="/review/">Clear the filter</a>' in page


@pytest.mark.parametrize("query", ["check=bogus", "partner=x", "q=" + "p" * 101, "q=%00", "list=%C2%B2"])
def test_a_queue_filter_not_understood_is_said_and_not_applied(client, manager, query):
    queue_of(manager, 4)
    client.force_login(manager)
    response = client.get(f"/review/?{query}")
    assert response.status_code == 200
    [message] = response.context["messages"]
    assert str(message).startswith("Not understood, so not applied: ")
    assert chosen(response.content.decode()) == 4


@pytest.mark.parametrize("query", [
    "partner={partner}", "check=primary", "list={list}", "q=pat", "q=jo1&check=primary",
])
def test_the_filtered_review_queue_reads_as_many_queries_for_5_people_as_for_60(client, manager, query):
    partner = PartnerFactory(account_manager=manager, slug="queue")
    queue_of(manager, FEW, partner)
    portal_request = partner.requests.get()
    url = "/review/?" + query.format(partner=partner.pk, list=portal_request.pk)
    client.force_login(manager)
    few = queries(client, url)
    for i in range(FEW, MANY):
        first = "Pat" if i % 2 == 0 else "Jo"
        RequestItemFactory(request=portal_request, name=f"{first} {i}", display_email=f"{first}{i}@queue.example",
                           check_result=CheckResult.PRIMARY)
    many = queries(client, url)
    assert few == many
    assert chosen(page_of(client, url)) > (1 if "jo1" in query else 5)
