"""Every onboarding page that lists what can grow reads it a page at a time: the same queries for 3 rows of each
kind as for 30, for every role that may see it; page 2 shows the next rows and the counts; a page past the end
shows the last; another partner's pages still answer 404."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AuditEvent, MailState, OutboundMail
from onboarding.models import InviteState, ItemState, PortalUserRequest, RequestItem
from onboarding.views.partners import SECTION_SIZE
from partners.models import Partner
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

ROLES = ["partner_admin", "partner_staff", "account_manager", "admin"]
VENDOR_ROLES = ["account_manager", "admin"]
MOST_QUERIES = 15  # per page, whatever its size: the point of paging


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def other():
    partner = PartnerFactory(slug="other", name="Other Ltd")
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def viewer(request, acme, manager):
    """Someone of the role named by the test's parameter who may see Acme's pages."""
    return {
        "partner_admin": lambda: PartnerAdminFactory(partner=acme),
        "partner_staff": lambda: UserFactory(partner=acme),
        "account_manager": lambda: manager,
        "admin": lambda: AdminFactory(),
    }[request.param]()


def grow(partner, n: int) -> None:
    """Top every list of the partner's page up to n rows: portal users, lists, pending and accepted people,
    invites not accepted, invites and notifications whose mail failed."""
    now = timezone.now()
    for i in range(PortalUserRequest.objects.filter(partner=partner).count(), n):
        UserFactory(partner=partner)
        portal_request = PortalUserRequestFactory(partner=partner)
        RequestItemFactory(request=portal_request)
        accepted = RequestItemFactory(request=portal_request, state=ItemState.ACCEPTED, decided_at=now)
        InviteFactory(partner=partner, item=accepted, state=InviteState.ACCEPTED,
                      accepted_at=now + datetime.timedelta(hours=i + 1))
        InviteFactory(partner=partner)
        InviteFactory(partner=partner, state=InviteState.FAILED, last_error="451 try later", send_attempts=6)
        OutboundMail.objects.create(to=f"pat{i}@acme.example", subject="Your list", body="…", template="t",
                                    partner_id=partner.pk, state=MailState.FAILED, attempts=6, last_error="451")


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def same_queries_at_two_sizes(client, url: str, grow_to) -> int:
    grow_to(3)
    few = queries(client, url)
    grow_to(30)
    many = queries(client, url)
    assert few == many, f"{url}: {few} queries for 3 rows of each kind, {many} for 30"
    assert many <= MOST_QUERIES
    return many


def section(page: str, anchor: str) -> str:
    """The HTML of one <section id=…> of a page."""
    return re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S).group(1)


# -- the same queries at two sizes, for each role that may see the page ------------------------------------------

@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_the_partner_page_reads_as_many_queries_for_3_rows_of_each_list_as_for_30(client, acme, viewer):
    client.force_login(viewer)
    same_queries_at_two_sizes(client, "/partners/acme/", lambda n: grow(acme, n))


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_later_pages_of_the_partner_page_read_as_many_queries_as_the_first(client, acme, viewer):
    grow(acme, 30)
    client.force_login(viewer)
    first = queries(client, "/partners/acme/")
    assert queries(client, "/partners/acme/?people=2&pending=2&requested=2&lists=2&invites=2&failed=2&mail=2") == first


@pytest.mark.parametrize("viewer", VENDOR_ROLES, indirect=True)
def test_the_partner_list_reads_as_many_queries_for_3_partners_as_for_30(client, manager, viewer):
    def grow_partners(n):
        for _ in range(Partner.objects.filter(account_manager=manager).count(), n):
            partner = PartnerFactory(account_manager=manager)
            AgreementFactory(partner=partner)
            grow(partner, 2)

    client.force_login(viewer)
    same_queries_at_two_sizes(client, "/partners/", grow_partners)


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_a_lists_page_reads_as_many_queries_for_3_people_as_for_30(client, acme, viewer):
    portal_request = PortalUserRequestFactory(partner=acme)

    def grow_list(n):
        for _ in range(portal_request.items.count(), n):
            RequestItemFactory(request=portal_request, state=ItemState.REJECTED, decided_at=timezone.now(),
                               decided_by=AccountManagerFactory(), rejection_reason="Not staff")

    client.force_login(viewer)
    same_queries_at_two_sizes(client, f"/partners/acme/requests/{portal_request.pk}/", grow_list)


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_a_persons_timeline_reads_as_many_queries_for_3_steps_as_for_30(client, acme, viewer):
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=acme))
    invite = InviteFactory(partner=acme, item=item, user=UserFactory(partner=acme))

    def grow_timeline(n):
        for i in range(AuditEvent.objects.filter(partner_id=acme.pk).count(), n):
            target = ("onboarding.invite", invite.pk) if i % 2 else ("onboarding.requestitem", item.pk)
            AuditEvent.objects.create(action="invite.resent" if i % 2 else "request.item_submitted",
                                      target_type=target[0], target_id=str(target[1]), partner_id=acme.pk)

    client.force_login(viewer)
    same_queries_at_two_sizes(client, f"/partners/acme/people/{item.pk}/", grow_timeline)


# -- paging ---------------------------------------------------------------------------------------------------------

def test_each_list_of_the_partner_page_pages_on_its_own_keeping_the_others(client, acme, manager):
    grow(acme, 30)
    client.force_login(manager)
    first = client.get("/partners/acme/").content.decode()
    second = client.get("/partners/acme/?invites=9&pending=2").content.decode()
    pending = RequestItem.objects.filter(partner=acme, state=ItemState.SUBMITTED).order_by("-created_at", "-id")
    newest, oldest = pending[:SECTION_SIZE], pending[SECTION_SIZE:]
    assert all(item.display_email in section(first, "pending") for item in newest)
    assert not any(item.display_email in section(first, "pending") for item in oldest)
    assert all(item.display_email in section(second, "pending") for item in oldest)
    assert not any(item.display_email in section(second, "pending") for item in newest)
    assert "(30)" in section(second, "pending") and "Page 2 of 2" in section(second, "pending")
    # The invites (60) were asked for page 9 of 3: the last is shown, and its links keep the pending page.
    assert "Page 3 of 3" in section(second, "invites")
    assert 'href="/partners/acme/?pending=2#invites"' in section(second, "invites")  # its first page
    assert 'href="/partners/acme/?invites=9&amp;pending=2&amp;people=2#people"' in section(second, "people")


def test_the_pagination_is_a_labelled_navigation_with_previous_and_next(client, acme, manager):
    grow(acme, 30)
    client.force_login(manager)
    page = client.get("/partners/acme/?requested=2").content.decode()
    requested = section(page, "requested")  # 60 people: three pages of 25
    assert '<nav class="pagination" aria-label="Pages of everyone requested">' in requested
    assert 'href="/partners/acme/#requested" rel="prev"' in requested
    assert 'href="/partners/acme/?requested=3#requested" rel="next"' in requested
    assert "Page 2 of 3" in requested and "(26\u201350 of 60)" in requested


def test_a_page_number_that_is_not_one_shows_the_first_page(client, acme, manager):
    grow(acme, 30)
    client.force_login(manager)
    page = client.get("/partners/acme/?people=last&lists=-4").content.decode()
    assert "Page 1 of 3" in section(page, "people") and "Page 1 of 2" in section(page, "lists")


def test_a_lists_page_shows_fifty_people_a_page_with_the_count(client, acme, manager):
    portal_request = PortalUserRequestFactory(partner=acme)
    items = [RequestItemFactory(request=portal_request, display_email=f"P{i:02d}@acme.example") for i in range(60)]
    client.force_login(manager)
    first = client.get(f"/partners/acme/requests/{portal_request.pk}/").content.decode()
    second = client.get(f"/partners/acme/requests/{portal_request.pk}/?page=2").content.decode()
    past = client.get(f"/partners/acme/requests/{portal_request.pk}/?page=40").content.decode()
    assert "(60 people)" in first and "Page 1 of 2" in first
    assert items[49].display_email in first and items[50].display_email not in first
    assert items[50].display_email in second and items[49].display_email not in second
    assert "Page 2 of 2" in past and items[50].display_email in past


def test_a_timeline_of_many_steps_is_paged_oldest_first(client, acme, manager):
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=acme))
    for n in range(55):
        AuditEvent.objects.create(action="request.item_submitted", target_type="onboarding.requestitem",
                                  target_id=str(item.pk), partner_id=acme.pk, actor_label=f"step{n:02d}@acme.example")
    client.force_login(manager)
    first = client.get(f"/partners/acme/people/{item.pk}/").content.decode()
    second = client.get(f"/partners/acme/people/{item.pk}/?page=2").content.decode()
    assert "step00@" in first and "step49@" in first and "step50@" not in first
    assert "step50@" in second and "step54@" in second and "step49@" not in second
    assert '<ol class="timeline" id="timeline" start="51">' in second


def test_the_partner_list_pages_partners_by_name(client, manager):
    for n in range(55):
        PartnerFactory(name=f"Partner {n:02d}", account_manager=manager)
    client.force_login(manager)
    first = client.get("/partners/").content.decode()
    second = client.get("/partners/?page=2").content.decode()
    assert "Your partners <span class=\"total\">(55)</span>" in first
    assert "Partner 49" in first and "Partner 50" not in first
    assert "Partner 50" in second and "Partner 54" in second and "Partner 49" not in second
    assert "Page 2 of 2" in second


# -- isolation --------------------------------------------------------------------------------------------------------

def test_paging_parameters_do_not_open_another_partners_pages(client, acme, other):
    foreign_list = PortalUserRequestFactory(partner=other)
    foreign_item = RequestItemFactory(request=foreign_list)
    client.force_login(PartnerAdminFactory(partner=acme))
    for url in [
        "/partners/other/?people=2", "/partners/other/?pending=1&invites=2",
        f"/partners/other/requests/{foreign_list.pk}/?page=2", f"/partners/acme/requests/{foreign_list.pk}/?page=1",
        f"/partners/other/people/{foreign_item.pk}/?page=2", f"/partners/acme/people/{foreign_item.pk}/?page=1",
    ]:
        assert client.get(url).status_code == 404, url


def test_an_account_manager_pages_only_through_their_own_partners(client, acme, other, manager):
    grow(other, 3)
    client.force_login(manager)
    assert client.get("/partners/other/?invites=2").status_code == 404
    page = client.get("/partners/?page=2").content.decode()
    assert "Other Ltd" not in page and "Acme MSP" in page  # one page: page 2 is its last


def test_partner_staff_see_their_lists_but_not_the_failed_mail(client, acme):
    grow(acme, 3)
    client.force_login(UserFactory(partner=acme))
    page = client.get("/partners/acme/?failed=2&mail=2").content.decode()
    assert "Mail that could not be sent" not in page and 'class="funnel"' not in page
    assert "Pending requests <span class=\"total\">(3)</span>" in page
