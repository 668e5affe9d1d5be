"""The search boxes are served by indexes: a partner's requested people, pending people, lists and invites found by
the beginning of a name or an address, and the review queue's search, are read from an index, never the table
whole, whatever the prefix's length; the first page of a short prefix walks the newest-first index, unsorted.

Checked with EXPLAIN on PostgreSQL over one large partner (4,000 requested people, each invited) among ten small
ones (250 each), analysed. Which index serves a count or a later page depends on how selective the prefix is and
how the rows are spread: the partner's own rows (its partner index), every partner's matches (the admin's prefix
indexes, migration 0006) or the partner's matches only (the partner-led prefix indexes, migration 0010: chosen for
the count and the later pages of a short prefix when the partner is large among many, e.g. 6,000 people among
thirty partners of 200, measured while writing this).
"""

import datetime

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from onboarding import selectors
from onboarding.models import Invite, InviteState, ItemState, PortalUserRequest, RequestItem
from tests.accounts.factories import AdminFactory, PartnerAdminFactory
from tests.onboarding.test_page_plans import brief, plan_nodes
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

LARGE, SMALL, SMALL_PARTNERS = 4000, 250, 10
FIRST_NAMES = ("Pat", "Jo", "Sam", "Alex", "Kim", "Lee", "Max", "Ray", "Ada", "Eve", "Ian", "Uma")
SEARCHES = ("j", "jo", "jo12", "Pat Person1")


def people_of(partner, n: int) -> None:
    """n requested people of the partner in lists of ten (one in ten still to decide), each invited (one in five
    invites not accepted yet), named after FIRST_NAMES in turn."""
    now = timezone.now()
    admin = PartnerAdminFactory(partner=partner)
    lists = PortalUserRequest.objects.bulk_create(
        PortalUserRequest(partner=partner, submitted_by=admin, source="form",
                          submitted_at=now - datetime.timedelta(hours=k)) for k in range(n // 10))
    items = RequestItem.objects.bulk_create(
        RequestItem(request=lists[i // 10], partner=partner, name=f"{FIRST_NAMES[i % 12]} Person{i}",
                    email=f"{FIRST_NAMES[i % 12].lower()}{i}@{partner.slug}.example",
                    display_email=f"{FIRST_NAMES[i % 12]}{i}@{partner.slug}.example",
                    state=ItemState.SUBMITTED if i % 10 == 0 else ItemState.ACCEPTED,
                    decided_at=None if i % 10 == 0 else now, check_result="primary")
        for i in range(n))
    Invite.objects.bulk_create(
        Invite(partner=partner, item=item, email=item.email, display_email=item.display_email, name=item.name,
               state=InviteState.PENDING if k % 5 == 0 else InviteState.ACCEPTED,
               accepted_at=None if k % 5 == 0 else now, expires_at=now + datetime.timedelta(days=9))
        for k, item in enumerate(items))


@pytest.fixture
def large():
    """The large partner, among the small ones; the tables analysed."""
    for n in range(SMALL_PARTNERS):
        people_of(PartnerFactory(slug=f"small{n}"), SMALL)
    partner = PartnerFactory(slug="large")
    people_of(partner, LARGE)
    with connection.cursor() as cursor:
        for table in ("onboarding_portaluserrequest", "onboarding_requestitem", "onboarding_invite"):
            cursor.execute(f"ANALYZE {table}")
    return partner


def reads_whole(queryset, table: str) -> list[dict]:
    """The plan's nodes if it reads the table whole (for the assertion's message), else an empty list."""
    nodes = plan_nodes(queryset)
    return nodes if any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == table for n in nodes) else []


def counted(queryset):
    """The query partner_counts makes of a filtered list: its rows counted."""
    return queryset.order_by().values("partner").annotate(n=Count("*"))


def first_later_and_count(queryset) -> list:
    return [queryset[:25], queryset[500:525], counted(queryset)]


def test_searching_a_partners_lists_never_reads_a_table_whole(large):
    for search in SEARCHES:
        for queryset in [
            *first_later_and_count(selectors.partner_items(partner=large, search=search)),
            *first_later_and_count(selectors.partner_pending_items(partner=large, search=search)),
            *first_later_and_count(selectors.partner_requests(partner=large, search=search)),
        ]:
            assert not reads_whole(queryset, "onboarding_requestitem"), (search, brief(plan_nodes(queryset)))
        for queryset in first_later_and_count(selectors.partner_invites(partner=large, search=search)):
            assert not reads_whole(queryset, "onboarding_invite"), (search, brief(plan_nodes(queryset)))


def test_the_first_page_of_a_short_prefix_walks_the_newest_first_index_unsorted(large):
    nodes = plan_nodes(selectors.partner_items(partner=large, search="j")[:25])
    assert "request_item_partner_newest" in {n.get("Index Name") for n in nodes}, brief(nodes)
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort", "Seq Scan")], brief(nodes)


def test_the_review_queues_search_never_reads_the_items_whole(large):
    for search in SEARCHES:
        queryset = selectors.review_queue(user=AdminFactory(), search=search)[:100]
        assert not reads_whole(queryset, "onboarding_requestitem"), (search, brief(plan_nodes(queryset)))
