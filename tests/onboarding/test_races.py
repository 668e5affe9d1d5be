"""Races between two real database connections end in a clear answer: the same person approved on two lists at
the same moment, and the same portal user created twice at once.

Each race is forced, not hoped for: the first transaction does its inserts and stays open, the second runs until
PostgreSQL reports it waiting for the first one's lock, then the first commits.
"""

import pytest
from celery.result import allow_join_result
from django.core import mail
from django.db import connection

from accounts.models import User
from core.models import AuditEvent
from onboarding.errors import ALREADY_OPEN_INVITE, OnboardingError
from onboarding.models import Invite, InviteState, ItemState, RequestItem
from onboarding.services.acceptance import invite_accept
from onboarding.services.invites import portal_user_prepare
from onboarding.services.review import request_item_approve
from partners.models import Partner, PartnerKind
from tests.accounts.factories import AdminFactory
from tests.onboarding.concurrency import Connection, hold_open, wait_until_waiting_for_a_lock
from tests.onboarding.factories import RequestItemFactory
from tests.onboarding.test_invites import IVY, OTTO, PASSWORD, directory_load
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _join_flag_restored():
    """Celery marks "inside a task" in one process-wide flag that each eager task restores to what it saw on
    entry: two threads running eager tasks at once can leave it set, and a later test's result.get() refused."""
    with allow_join_result():
        yield

EMAIL = "Ivy@Partner.example"


@pytest.fixture
def msp():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, IVY, OTTO)
    return partner


@pytest.fixture
def reseller():
    partner = PartnerFactory(name="Resell Co", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    return partner


def on_two_lists(partner) -> tuple[RequestItem, RequestItem]:
    return tuple(RequestItemFactory(request__partner=partner, name="Ivy Invitee", display_email=EMAIL)
                 for _ in range(2))


def approve_at_the_same_moment(first: RequestItem, second: RequestItem):
    """Approve `first` (its manager) and `second` (an admin) so that the second waits on the first's insert."""
    other_reviewer = AdminFactory()
    holder, release = hold_open(lambda: request_item_approve(item=first, actor=first.partner.account_manager))
    racer = Connection(lambda: request_item_approve(item=second, actor=other_reviewer))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()
    finally:
        release.set()
        holder.join_or_fail()
    return racer


def test_the_second_approval_of_a_person_at_the_same_moment_joins_the_open_invite(msp):
    first, second = on_two_lists(msp)
    approve_at_the_same_moment(first, second).join_or_fail()
    invite = Invite.objects.get(partner=msp, email="ivy@partner.example")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (ItemState.INVITED, ItemState.INVITED)
    assert AuditEvent.objects.get(action="request.item_invited", target_id=str(second.pk)).data == {
        "invite": invite.pk}
    assert User.objects.filter(email="ivy@partner.example").count() == 1
    assert [m.to for m in mail.outbox if m.to == [EMAIL]] == [[EMAIL]]


def test_the_race_on_the_invite_alone_also_joins_the_open_invite(msp):
    # The person's user exists already (an earlier, revoked invite): the second waits on the invite's insert.
    portal_user_prepare(partner=msp, email=EMAIL, name="Ivy Invitee")
    first, second = on_two_lists(msp)
    approve_at_the_same_moment(first, second).join_or_fail()
    second.refresh_from_db()
    assert second.state == ItemState.INVITED
    assert Invite.objects.filter(partner=msp, email="ivy@partner.example").count() == 1


def test_the_person_accepting_the_one_invite_settles_both_lists(msp):
    first, second = on_two_lists(msp)
    approve_at_the_same_moment(first, second).join_or_fail()
    invite = Invite.objects.get(partner=msp)
    assert invite.state == InviteState.SENT
    user = invite_accept(invite=invite, password=PASSWORD)
    assert set(RequestItem.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", "user")) == {
        (ItemState.ACCEPTED, user.pk)}


def test_the_second_of_two_welcome_approvals_at_the_same_moment_is_refused_clearly(reseller):
    first, second = on_two_lists(reseller)
    racer = approve_at_the_same_moment(first, second)
    with pytest.raises(OnboardingError) as caught:
        racer.join_or_fail()
    assert str(caught.value) == ALREADY_OPEN_INVITE.format(email=EMAIL, partner=reseller)
    second.refresh_from_db()
    assert second.state == ItemState.SUBMITTED
    assert Invite.objects.filter(partner=reseller).count() == 1


def test_a_portal_user_created_twice_at_the_same_moment_is_one_user(msp):
    holder, release = hold_open(lambda: portal_user_prepare(partner=msp, email=EMAIL, name="Ivy Invitee"))
    racer = Connection(lambda: portal_user_prepare(partner=msp, email="IVY@partner.example", name="Ivy"))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()
    finally:
        release.set()
    first = holder.join_or_fail()
    assert racer.join_or_fail().pk == first.pk
    assert User.objects.filter(email="ivy@partner.example").count() == 1


def test_a_user_committed_between_the_read_and_the_validation_of_the_insert_is_taken(msp):
    # The other interleaving: the first commits after the second read "no such user" and before the
    # second's create_user validated the address (its full_clean), which then finds it taken. The
    # first holds the partner table, so the second waits inside that validation (its foreign key check).
    def first_and_hold_the_partners():
        user = portal_user_prepare(partner=msp, email=EMAIL, name="Ivy Invitee")
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(Partner._meta.db_table)} IN ACCESS EXCLUSIVE MODE")
        return user

    holder, release = hold_open(first_and_hold_the_partners)
    racer = Connection(lambda: portal_user_prepare(partner=msp, email=EMAIL, name="Ivy"))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()
    finally:
        release.set()
    assert racer.join_or_fail().pk == holder.join_or_fail().pk


def test_a_user_created_at_the_same_moment_for_another_partner_is_refused_clearly(msp):
    other = PartnerFactory()
    holder, release = hold_open(lambda: portal_user_prepare(partner=msp, email=EMAIL, name="Ivy Invitee"))
    racer = Connection(lambda: portal_user_prepare(partner=other, email=EMAIL, name="Ivy"))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()
    finally:
        release.set()
    holder.join_or_fail()
    with pytest.raises(OnboardingError, match="already has a portal account"):
        racer.join_or_fail()
