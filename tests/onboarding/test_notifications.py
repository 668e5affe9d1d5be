"""Notifications that fit (issue 12, point 4): one decision mail per list and batch naming each person's real
outcome, the requester told of an acceptance, the account manager of an invite that failed for good, and each
mail only to people who want it."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.mail import mail_preferences_set
from core.models import AuditEvent, OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, InviteState, ItemState
from onboarding.services.acceptance import invite_accept
from onboarding.services.decision_mail import REQUEST_DECIDED
from onboarding.services.invites import invite_create, invite_send_failed
from onboarding.services.invites.notices import INVITE_FAILED, PERSON_ACCEPTED
from onboarding.services.review import (
    held_items_expire,
    request_item_approve,
    request_items_approve,
    request_items_reject,
)
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory
from tests.onboarding.factories import PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
ADA = "Ada Lovelace,Ada.Lovelace@Partner.example,ada@partner.example,ada.lovelace@forward.example,yes\n"
IVY = "Ivy Invitee,ivy@partner.example,,,yes\n"
PASSWORD = "quiet lantern orbit 7429"


@pytest.fixture
def msp():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    connection, _ = DirectoryConnection.objects.get_or_create(partner=partner, defaults={"kind": SourceKind.CSV})
    directory_csv_import(connection=connection, data=(HEADER + ADA + IVY).encode())
    return partner


@pytest.fixture
def reseller():
    partner = PartnerFactory(name="Resell Co", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    return partner


def a_list(partner, *people: tuple[str, str]):
    """A submitted list of these (name, address) people; its items, in order."""
    portal_request = PortalUserRequestFactory(partner=partner)
    return [RequestItemFactory(request=portal_request, partner=partner, name=name, display_email=email)
            for name, email in people]


def decision_mails(requester) -> list:
    return list(OutboundMail.objects.filter(
        to=requester.display_email, template__in=["request_item_decided", "request_items_decided"]).order_by("pk"))


# --- one mail per list and decision batch, each person's real outcome -------------------------------------------------


def test_two_batches_on_one_list_give_two_mails_each_naming_its_people_with_their_outcome(
    msp, django_capture_on_commit_callbacks
):
    ada_alias, ivy, omar, nia = a_list(msp, ("Ada", "ada@partner.example"), ("Ivy", "ivy@partner.example"),
                                       ("Omar", "omar@partner.example"), ("Nia", "nia@partner.example"))
    manager, requester = msp.account_manager, ivy.request.submitted_by
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[ada_alias.pk, ivy.pk, omar.pk], actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        request_items_reject(item_ids=[nia.pk], actor=manager, reason="Left the company.")
    first, second = decision_mails(requester)
    assert first.subject == "Your portal request list for Acme MSP: 3 people decided"
    assert "- Ada <ada@partner.example>: an alias of ada.lovelace@partner.example: use ada.lovelace@partner.example" \
        in first.body
    assert f"/partners/{msp.slug}/people/{ada_alias.pk}/" in first.body
    invited = "\nInvited (1)\nConfirmed on your account: the invitation is on its way to them.\n- Ivy <ivy@partner"
    assert invited in first.body
    assert "- Omar <omar@partner.example>: not on your account yet; waits until" in first.body
    assert "1 more person on this list still waits for a decision." in first.body
    assert "nia@partner.example" not in first.body
    assert second.subject == "Portal request for nia@partner.example: rejected"
    assert "Rejected: reason: Left the company." in second.body
    assert "ivy@partner.example" not in second.body and "more person" not in second.body


def test_a_resellers_person_is_told_as_account_created(reseller, django_capture_on_commit_callbacks):
    [item] = a_list(reseller, ("Rita", "rita@resell.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=reseller.account_manager)
    [notice] = decision_mails(item.request.submitted_by)
    assert notice.subject == "Portal request for rita@resell.example: account created"
    assert "Account created" in notice.body and "receives a mail to start using it" in notice.body


def test_the_mail_text_is_not_html_escaped(msp, django_capture_on_commit_callbacks):
    [item] = a_list(msp, ("O'Brien & Sons <IT>", "omar@partner.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_items_reject(item_ids=[item.pk], actor=msp.account_manager, reason="Not \"staff\" & not <ours>")
    [notice] = decision_mails(item.request.submitted_by)
    assert "O'Brien & Sons <IT> <omar@partner.example>" in notice.body
    assert 'reason: Not "staff" & not <ours>' in notice.body
    assert "&amp;" not in notice.body and "&#x27;" not in notice.body


def test_a_requester_who_turned_decision_mails_off_gets_none(msp, django_capture_on_commit_callbacks):
    [item] = a_list(msp, ("Ivy", "ivy@partner.example"))
    requester = item.request.submitted_by
    mail_preferences_set(user=requester, enabled={REQUEST_DECIDED.key: False}, actor=requester)
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=msp.account_manager)
    assert decision_mails(requester) == []
    assert Invite.objects.get(item=item).state == InviteState.SENT  # the invitation itself is never optional


def test_a_requester_no_longer_active_is_not_mailed(msp, django_capture_on_commit_callbacks):
    [item] = a_list(msp, ("Ivy", "ivy@partner.example"))
    requester = item.request.submitted_by
    type(requester).objects.filter(pk=requester.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=msp.account_manager)
    assert decision_mails(requester) == []


def test_the_decision_mails_of_many_lists_read_preferences_in_one_query():
    # Two lists decided together, then four: one query asks whether their requesters want the mail.
    partner = PartnerFactory(kind=PartnerKind.MSP)
    counts = []
    for size in (2, 4):
        items = [a_list(partner, ("Someone", f"p{size}-{i}@partner.example"))[0] for i in range(size)]
        with CaptureQueriesContext(connection) as captured:
            request_items_reject(item_ids=[item.pk for item in items], actor=partner.account_manager, reason="No.")
        counts.append(sum('"core_mailpreference"' in query["sql"] for query in captured.captured_queries))
        assert OutboundMail.objects.filter(to__in=[item.request.submitted_by.display_email for item in items]
                                           ).count() == size
    assert counts == [1, 1]


# --- the requester hears of an acceptance -----------------------------------------------------------------------------


@pytest.fixture
def invited_ivy(msp, django_capture_on_commit_callbacks):
    """Ivy asked for on two lists by two partner admins, approved and invited."""
    [first] = a_list(msp, ("Ivy", "ivy@partner.example"))
    [second] = a_list(msp, ("Ivy", "Ivy@Partner.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[first.pk, second.pk], actor=msp.account_manager)
    return Invite.objects.get(email="ivy@partner.example"), first.request.submitted_by, second.request.submitted_by


def test_each_requester_is_told_once_when_their_person_accepts(invited_ivy, django_capture_on_commit_callbacks):
    invite, first, second = invited_ivy
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invite_accept(invite=invite, password=PASSWORD)
    told = OutboundMail.objects.filter(template="person_accepted")
    assert sorted(told.values_list("to", flat=True)) == sorted([first.display_email, second.display_email])
    notice = told.first()
    assert notice.subject == "ivy@partner.example accepted the Partner Portal invitation (Acme MSP)"
    assert "Ivy <ivy@partner.example>, whom you asked portal access for, accepted" in notice.body
    assert sorted(m.to[0] for m in mail.outbox if "accepted the Partner Portal" in m.subject) == sorted(
        [first.display_email, second.display_email])


def test_a_requester_who_turned_acceptance_mails_off_is_not_told(invited_ivy, django_capture_on_commit_callbacks):
    invite, first, second = invited_ivy
    mail_preferences_set(user=first, enabled={PERSON_ACCEPTED.key: False}, actor=first)
    with django_capture_on_commit_callbacks(execute=True):
        invite_accept(invite=invite, password=PASSWORD)
    assert list(OutboundMail.objects.filter(template="person_accepted").values_list("to", flat=True)) == [
        second.display_email]


# --- the account manager hears of an invite that failed for good ------------------------------------------------------


def test_the_account_manager_is_told_once_when_an_invite_fails_for_good(msp, django_capture_on_commit_callbacks):
    manager = msp.account_manager
    invite = invite_create(partner=msp, email="ivy@partner.example", name="Ivy", actor=manager)
    invite_send_failed(invite_id=invite.pk, error="SMTPRecipientsRefused: 550 no such user")
    invite_send_failed(invite_id=invite.pk, error="again")  # failed already: nothing more
    [notice] = OutboundMail.objects.filter(template="invite_failed")
    assert (notice.to, notice.partner_id) == (manager.display_email, msp.pk)
    assert notice.subject == "Portal invitation for ivy@partner.example could not be delivered (Acme MSP)"
    assert "Last error: SMTPRecipientsRefused: 550 no such user" in notice.body
    assert f"/partners/{msp.slug}/" in notice.body
    assert AuditEvent.objects.filter(action="invite.send_failed").count() == 1


def test_an_account_manager_who_turned_failure_mails_off_is_not_told(msp):
    manager = msp.account_manager
    mail_preferences_set(user=manager, enabled={INVITE_FAILED.key: False}, actor=manager)
    invite = invite_create(partner=msp, email="ivy@partner.example", name="Ivy", actor=manager)
    invite_send_failed(invite_id=invite.pk, error="SMTPRecipientsRefused")
    assert not OutboundMail.objects.filter(template="invite_failed").exists()
    assert Invite.objects.get(pk=invite.pk).state == InviteState.FAILED


def test_the_items_of_a_list_end_in_their_states(msp, django_capture_on_commit_callbacks):
    # The mail is built from the states the decision wrote (a guard against telling what did not happen).
    alias, ivy = a_list(msp, ("Ada", "ada@partner.example"), ("Ivy", "ivy@partner.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[alias.pk, ivy.pk], actor=msp.account_manager)
    alias.refresh_from_db()
    ivy.refresh_from_db()
    assert (alias.state, ivy.state) == (ItemState.INVALID_ADDRESS, ItemState.INVITED)


def test_the_expiry_mail_is_plain_text_and_points_at_asking_again(msp, django_capture_on_commit_callbacks):
    [item] = a_list(msp, ("Omar O'Neil & Co", "omar@partner.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=msp.account_manager)
    item.refresh_from_db()
    with time_machine.travel(item.awaiting_until + datetime.timedelta(minutes=1)), \
            django_capture_on_commit_callbacks(execute=True):
        assert held_items_expire() == 1
    notice = OutboundMail.objects.get(template="request_item_expired", to=item.request.submitted_by.display_email)
    assert "Omar O'Neil & Co <omar@partner.example>" in notice.body
    assert f"/partners/{msp.slug}/people/{item.pk}/" in notice.body


def test_optional_mails_say_where_to_choose_them(msp, django_capture_on_commit_callbacks):
    [item] = a_list(msp, ("Ivy", "ivy@partner.example"))
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=msp.account_manager)
    [notice] = decision_mails(item.request.submitted_by)
    assert f"{settings.PORTAL_URL}{reverse('accounts:notifications')}" in notice.body


def test_an_account_manager_who_handed_the_partner_over_is_not_told(msp, django_capture_on_commit_callbacks):
    former = msp.account_manager
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=msp, submitted_by=former), partner=msp,
                              name="Ivy", display_email="ivy@partner.example")  # entered on the partner's behalf
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[item.pk], actor=former)
    type(msp).objects.filter(pk=msp.pk).update(account_manager=AccountManagerFactory())
    with django_capture_on_commit_callbacks(execute=True):
        invite_accept(invite=Invite.objects.get(email="ivy@partner.example"), password=PASSWORD)
    assert not OutboundMail.objects.filter(template="person_accepted", to=former.display_email).exists()
