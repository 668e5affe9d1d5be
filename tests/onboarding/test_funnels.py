"""Funnels, medians and a partner page's counts come from grouped queries: right for each partner, in one query for
all the partners of a page (percentile_cont on PostgreSQL; tests/onboarding/test_pages_on_sqlite.py: SQLite)."""

import datetime
import statistics

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import MailState, OutboundMail
from onboarding.models import InviteState, ItemState, RequestItem
from onboarding.selectors import partner_counts, partner_funnels, times_to_access
from tests.accounts.factories import AccountManagerFactory, UserFactory
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def accepted_after(partner, span: datetime.timedelta) -> None:
    """A person requested at some time and whose invite was accepted `span` later."""
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=partner), state=ItemState.ACCEPTED,
                              decided_at=timezone.now())
    requested = timezone.now() - datetime.timedelta(days=30)
    RequestItem.objects.filter(pk=item.pk).update(created_at=requested)
    InviteFactory(partner=partner, item=item, state=InviteState.ACCEPTED, accepted_at=requested + span)


def test_the_median_time_to_access_of_each_partner_is_taken_in_one_query():
    odd, even, none = PartnerFactory(), PartnerFactory(), PartnerFactory()
    for hours in (10, 1, 2):
        accepted_after(odd, hours * HOUR)
    for hours in (1, 2, 4, 10):
        accepted_after(even, hours * HOUR)
    InviteFactory(partner=none, state=InviteState.ACCEPTED, accepted_at=timezone.now())  # no request: not counted
    InviteFactory(partner=none)  # not accepted
    with CaptureQueriesContext(connection) as queries:
        medians = times_to_access(partner_ids=[odd.pk, even.pk, none.pk])
    assert medians == {odd.pk: 2 * HOUR, even.pk: 3 * HOUR}
    assert medians[even.pk] == statistics.median([1 * HOUR, 2 * HOUR, 4 * HOUR, 10 * HOUR])
    assert len(queries) == 1 and "PERCENTILE_CONT(0.5)" in queries[0]["sql"]


def test_each_funnel_counts_its_partners_people_by_how_far_they_got():
    partner, other, empty = PartnerFactory(), PartnerFactory(), PartnerFactory()
    portal_request = PortalUserRequestFactory(partner=partner)
    decided = {"decided_at": timezone.now()}
    for state, n in [(ItemState.SUBMITTED, 2), (ItemState.REJECTED, 1), (ItemState.AWAITING_VALIDATION, 1),
                     (ItemState.INVITED, 1), (ItemState.ACCOUNT_CREATED, 1), (ItemState.ACCEPTED, 2),
                     (ItemState.EXPIRED, 1)]:
        for _ in range(n):
            extra = {} if state == ItemState.SUBMITTED else decided
            if state == ItemState.REJECTED:
                extra["rejection_reason"] = "Not staff"
            if state == ItemState.AWAITING_VALIDATION:
                extra["awaiting_until"] = timezone.now()
            RequestItemFactory(request=portal_request, state=state, **extra)
    RequestItemFactory(request=PortalUserRequestFactory(partner=other))
    with CaptureQueriesContext(connection) as queries:
        funnels = partner_funnels(partner_ids=[partner.pk, empty.pk])
    assert len(queries) == 1
    assert {stage["key"]: stage["count"] for stage in funnels[partner.pk]} == {
        "submitted": 9, "approved": 6, "awaiting": 1, "invited": 4, "accepted": 2, "expired": 1,
    }
    assert [stage["width"] for stage in funnels[partner.pk]] == [100, 67, 11, 44, 22, 11]
    assert {stage["count"] for stage in funnels[empty.pk]} == {0}


def test_the_partner_list_takes_every_funnel_and_median_of_its_page_in_one_query_each(client):
    manager = AccountManagerFactory()
    for _ in range(4):
        partner = PartnerFactory(account_manager=manager)
        AgreementFactory(partner=partner)
        accepted_after(partner, 5 * HOUR)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/partners/").content.decode()
    sql = [query["sql"] for query in queries]
    assert sum("PERCENTILE_CONT" in statement for statement in sql) == 1
    funnels = 'SELECT "onboarding_requestitem"."partner_id" AS "partner_id", "onboarding_requestitem"."state"'
    assert sum(statement.startswith(funnels) for statement in sql) == 1
    assert page.count("Median time from request to access: 5 hours") == 4


def test_a_partner_pages_counts_are_read_in_one_query():
    partner, other = PartnerFactory(), PartnerFactory()
    UserFactory.create_batch(3, partner=partner)
    UserFactory(partner=partner, is_active=False)
    first, second = PortalUserRequestFactory(partner=partner), PortalUserRequestFactory(partner=partner)
    RequestItemFactory.create_batch(2, request=first)
    RequestItemFactory(request=second, state=ItemState.INVALID_ADDRESS, decided_at=timezone.now())
    RequestItemFactory(request=second, state=ItemState.ACCEPTED, decided_at=timezone.now())
    InviteFactory.create_batch(2, partner=partner)
    InviteFactory(partner=partner, state=InviteState.FAILED)
    InviteFactory(partner=partner, state=InviteState.ACCEPTED, accepted_at=timezone.now())
    OutboundMail.objects.create(to="a@x.example", subject="s", body="b", template="t", partner_id=partner.pk,
                                state=MailState.FAILED)
    OutboundMail.objects.create(to="a@x.example", subject="s", body="b", template="t", partner_id=partner.pk)
    for model_factory in (UserFactory, InviteFactory):
        model_factory(partner=other)
    with CaptureQueriesContext(connection) as queries:
        counts = partner_counts(partner=partner)
    assert len(queries) == 1
    # People: the three active ones and the two lists' submitters (partner admins).
    assert (counts.people, counts.lists, counts.requested, counts.pending) == (5, 2, 4, 3)
    assert (counts.invites, counts.failed_invites, counts.failed_mail) == (3, 1, 1)
    assert {stage["key"]: stage["count"] for stage in counts.funnel}["accepted"] == 1
