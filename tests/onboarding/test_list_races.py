"""Two account managers approve lists that name the same people at the same moment: set-wise, the race ends as it
does one person at a time — one account and one invitation per person, the second list's people join it (MSP) or
are refused clearly (reseller, whose welcome link cannot be shared).

Forced, not hoped for: the first approval does its inserts and stays open; the second runs until PostgreSQL reports
it waiting (its INSERT … ON CONFLICT waits for the first transaction), then the first commits.
"""

import pytest
from celery.result import allow_join_result

from accounts.models import User
from core.models import AuditEvent
from onboarding.errors import ALREADY_OPEN_INVITE
from onboarding.models import Invite, ItemState
from onboarding.services.requests import request_submit
from onboarding.services.review import request_items_approve
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory
from tests.onboarding.concurrency import Connection, hold_open, wait_until_waiting_for_a_lock
from tests.onboarding.test_lists_at_size import msp_of
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = 10


@pytest.fixture(autouse=True)
def _join_flag_restored():
    """Eager tasks in two threads can leave Celery's process-wide "inside a task" flag set (see test_races)."""
    with allow_join_result():
        yield


def two_lists(partner, rows):
    """The same people on two lists; the second in reverse order (the inserts must not deadlock on it)."""
    actor = PartnerAdminFactory(partner=partner)
    first = request_submit(partner=partner, actor=actor, rows=rows)
    second = request_submit(partner=partner, actor=actor, rows=list(reversed(rows)))
    return [list(portal_request.items.values_list("pk", flat=True)) for portal_request in (first, second)]


def approved_at_the_same_moment(partner, first_ids, second_ids):
    """The partner's manager approves the first list, an admin the second, which waits on the first's inserts."""
    holder, release = hold_open(lambda: request_items_approve(item_ids=first_ids, actor=partner.account_manager))
    racer = Connection(lambda: request_items_approve(item_ids=second_ids, actor=AdminFactory()))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()
    finally:
        release.set()
        holder.join_or_fail()
    return racer.join_or_fail()


def test_two_msp_lists_approved_at_once_share_one_invite_per_person():
    partner = msp_of(AccountManagerFactory(), PEOPLE, slug="race")
    rows = [(f"Person {i}", f"p{i}@race.example") for i in range(PEOPLE) if i % 5 != 3]  # enabled people only
    first_ids, second_ids = two_lists(partner, rows)
    decided = approved_at_the_same_moment(partner, first_ids, second_ids)
    assert (len(decided.done), decided.refused) == (len(rows), [])
    assert Invite.objects.filter(partner=partner).count() == len(rows)
    assert User.objects.filter(partner=partner, is_active=False).count() == len(rows)
    for first, second in zip(first_ids, reversed(second_ids), strict=True):
        invite = Invite.objects.get(item_id=first)
        assert AuditEvent.objects.get(action="request.item_invited", target_id=str(second)).data == {
            "invite": invite.pk}
    assert set(Invite.objects.filter(partner=partner).values_list("item_id", flat=True)) == set(first_ids)
    assert set(Invite.objects.values_list("state", flat=True)) == {"sent"}
    assert set(partner.request_items.values_list("state", flat=True)) == {ItemState.INVITED}


def test_two_reseller_lists_approved_at_once_refuse_the_second_clearly():
    partner = PartnerFactory(slug="race-resell", name="Race Resell", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    rows = [(f"Person {i}", f"r{i}@race-resell.example") for i in range(PEOPLE)]
    first_ids, second_ids = two_lists(partner, rows)
    decided = approved_at_the_same_moment(partner, first_ids, second_ids)
    assert decided.done == []
    assert sorted(str(why) for _, why in decided.refused) == sorted(
        ALREADY_OPEN_INVITE.format(email=email, partner=partner) for _, email in rows)
    assert set(partner.request_items.filter(pk__in=second_ids).values_list("state", flat=True)) == {
        ItemState.SUBMITTED}
    assert Invite.objects.filter(partner=partner).count() == PEOPLE
    assert User.objects.filter(partner=partner).exclude(role="partner_admin").count() == PEOPLE
