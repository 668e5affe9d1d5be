"""Account managers' decisions and what follows them: invites after recipient validation for MSPs (R4, R7),
held requests released by a sync or expired (R9), accounts and welcome links for resellers (R3)."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import User
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import REASON_REQUIRED, WRONG_STATE, OnboardingError
from onboarding.models import Invite, InviteKind, InviteState, ItemState, RequestItem
from onboarding.services.review import (
    held_items_expire,
    held_items_recheck,
    request_item_approve,
    request_item_reject,
)
from partners.errors import NO_AGREEMENT, AgreementMissing
from partners.models import PartnerKind
from tests.onboarding.factories import RequestItemFactory
from tests.onboarding.invite_links import mailed_code
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
ADA = "Ada Lovelace,Ada.Lovelace@Partner.example,ada@partner.example,ada.lovelace@forward.example,yes\n"
DAN = "Dan Disabled,dan@partner.example,,,no\n"
NIA = "Nia Newcomer,Nia.Newcomer@Partner.example,,,yes\n"


def directory_load(partner, *rows: str) -> None:
    """Replace the partner's directory (a CSV account) with these people."""
    connection, _ = DirectoryConnection.objects.get_or_create(partner=partner, defaults={"kind": SourceKind.CSV})
    directory_csv_import(connection=connection, data=(HEADER + "".join(rows)).encode())


@pytest.fixture
def msp():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, ADA, DAN)
    return partner


@pytest.fixture
def reseller():
    partner = PartnerFactory(name="Resell Co", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    return partner


def item_for(partner, email: str, name: str = "Someone"):
    return RequestItemFactory(request__partner=partner, name=name, display_email=email)


def approve(item, capture, actor=None):
    """Approve as the partner's account manager and run what waits for the commit (tasks run eagerly)."""
    with capture(execute=True):
        request_item_approve(item=item, actor=actor or item.partner.account_manager)
    item.refresh_from_db()
    return item


def expire_at(moment, capture) -> int:
    """Run the expiry (beat's job) at `moment`, sending its mails."""
    with time_machine.travel(moment), capture(execute=True):
        return held_items_expire()


def mails_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


def trail(item) -> list[tuple[str, int | None]]:
    """The item's audit events: (action, actor id), oldest first."""
    return list(AuditEvent.objects.filter(target_type="onboarding.requestitem", target_id=str(item.pk))
                .order_by("id").values_list("action", "actor_id"))


# --- approval of an MSP's item: recipient validation ------------------------------------------------------------------


def test_approving_an_msps_primary_address_sends_the_person_an_invite(
    msp, settings, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, "Ada.Lovelace@Partner.example", "Ada"), django_capture_on_commit_callbacks)
    assert item.state == ItemState.INVITED
    invite = Invite.objects.get(item=item)
    assert (invite.kind, invite.state, invite.email, invite.partner) == (
        InviteKind.INVITE, InviteState.SENT, "ada.lovelace@partner.example", msp)
    [message] = mails_to("Ada.Lovelace@Partner.example")
    # One invitation link; the mail also names the page to paste its code into (for a client that drops fragments).
    [link] = [line for line in message.body.split() if line.startswith(settings.PORTAL_URL) and "#" in line]
    assert link == f"{settings.PORTAL_URL}/invite/#{mailed_code(message.body)}"


def test_an_msps_primary_address_is_validated_before_it_is_invited(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "ada.lovelace@partner.example"), django_capture_on_commit_callbacks)
    assert [action for action, _ in trail(item)] == ["request.item_approved", "request.item_validated"]
    assert (item.decided_by, item.check_result) == (msp.account_manager, "")
    assert item.decided_at is not None


@pytest.mark.parametrize("email", ["ADA@partner.example", "ada.lovelace@forward.example"], ids=["alias", "forwarding"])
def test_approving_an_msps_alias_or_forwarding_address_suggests_the_primary(
    msp, email, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, email), django_capture_on_commit_callbacks)
    assert item.state == ItemState.INVALID_ADDRESS
    assert item.suggested_email == "ada.lovelace@partner.example"
    assert not Invite.objects.exists()
    assert mails_to(email) == []


@pytest.mark.parametrize("email", ["nia.newcomer@partner.example", "dan@partner.example"],
                         ids=["not found", "disabled"])
def test_approving_an_msp_address_not_valid_yet_holds_it_for_the_configured_days(
    msp, email, settings, django_capture_on_commit_callbacks
):
    settings.AWAITING_VALIDATION_EXPIRY_DAYS = 12
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        item = approve(item_for(msp, email), django_capture_on_commit_callbacks)
    assert item.state == ItemState.AWAITING_VALIDATION
    assert item.awaiting_until == now + datetime.timedelta(days=12)
    assert not Invite.objects.exists()
    assert not User.objects.filter(email=email).exists()


# --- approval of a reseller's item (R3) -------------------------------------------------------------------------------


def test_approving_a_resellers_item_creates_an_inactive_account_and_mails_a_welcome_link(
    reseller, django_capture_on_commit_callbacks
):
    item = approve(item_for(reseller, "Rita@Resell.example", "Rita Reseller"), django_capture_on_commit_callbacks)
    assert item.state == ItemState.ACCOUNT_CREATED
    user = User.objects.get(email="rita@resell.example")
    assert (user.is_active, user.partner, user.full_name, user.has_usable_password()) == (
        False, reseller, "Rita Reseller", False)
    invite = Invite.objects.get(item=item)
    assert (invite.kind, invite.state, invite.user) == (InviteKind.WELCOME, InviteState.SENT, user)
    [message] = mails_to("Rita@Resell.example")
    assert message.subject == "Your Partner Portal account is ready (Resell Co)"


def test_a_resellers_item_is_not_checked_against_a_directory(reseller, django_capture_on_commit_callbacks):
    item = approve(item_for(reseller, "rita@resell.example"), django_capture_on_commit_callbacks)
    assert [action for action, _ in trail(item)] == ["request.item_approved", "request.item_account_created"]


# --- refusals ---------------------------------------------------------------------------------------------------------


def test_approving_an_item_twice_is_refused(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "ada.lovelace@partner.example"), django_capture_on_commit_callbacks)
    with pytest.raises(OnboardingError) as caught:
        request_item_approve(item=item, actor=msp.account_manager)
    assert str(caught.value) == WRONG_STATE.format(state="invited", action="approved")
    assert Invite.objects.count() == 1


def test_approval_without_a_current_agreement_is_refused_and_changes_nothing(django_capture_on_commit_callbacks):
    partner = PartnerFactory(name="Unsigned Ltd")
    item = item_for(partner, "ada@unsigned.example")
    with pytest.raises(AgreementMissing) as caught:
        approve(item, django_capture_on_commit_callbacks)
    assert str(caught.value) == NO_AGREEMENT.format(partner=partner)
    item.refresh_from_db()
    assert (item.state, item.decided_at) == (ItemState.SUBMITTED, None)
    assert trail(item) == []
    assert mail.outbox == []


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_a_rejection_needs_a_reason(msp, reason):
    item = item_for(msp, "ada.lovelace@partner.example")
    with pytest.raises(OnboardingError) as caught:
        request_item_reject(item=item, actor=msp.account_manager, reason=reason)
    assert str(caught.value) == REASON_REQUIRED
    item.refresh_from_db()
    assert item.state == ItemState.SUBMITTED


def test_a_rejection_records_the_reason_and_who_decided(msp, django_capture_on_commit_callbacks):
    item = item_for(msp, "ada.lovelace@partner.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_item_reject(item=item, actor=msp.account_manager, reason="  Not one of our staff. ")
    item.refresh_from_db()
    assert (item.state, item.rejection_reason, item.decided_by) == (
        ItemState.REJECTED, "Not one of our staff.", msp.account_manager)
    assert not Invite.objects.exists()


def test_an_approved_item_cannot_be_rejected(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "nia.newcomer@partner.example"), django_capture_on_commit_callbacks)
    with pytest.raises(OnboardingError) as caught:
        request_item_reject(item=item, actor=msp.account_manager, reason="changed my mind")
    assert str(caught.value) == WRONG_STATE.format(state="awaiting recipient validation", action="rejected")


# --- the requester hears of every decision ----------------------------------------------------------------------------


def test_the_requester_is_told_a_held_person_waits_for_the_directory(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "nia.newcomer@partner.example"), django_capture_on_commit_callbacks)
    [message] = mails_to(item.request.submitted_by.display_email)
    assert message.subject == "Portal request for nia.newcomer@partner.example: waiting for the directory"
    assert f"Waiting for the directory: not on your account yet; waits until {item.awaiting_until:%Y-%m-%d}" \
        in message.body
    assert "approved" not in message.body


def test_the_requester_is_told_an_alias_is_not_invited_and_which_primary_to_use(
    msp, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, "ADA@partner.example"), django_capture_on_commit_callbacks)
    [message] = mails_to(item.request.submitted_by.display_email)
    assert message.subject == ("Portal request for ADA@partner.example: not a primary address, "
                               "use ada.lovelace@partner.example")
    assert "an alias of ada.lovelace@partner.example: use ada.lovelace@partner.example" in message.body
    assert f"/partners/{msp.slug}/people/{item.pk}/" in message.body
    assert "invitation is on its way" not in message.body


def test_the_requester_is_mailed_a_rejection_with_its_reason(msp, django_capture_on_commit_callbacks):
    item = item_for(msp, "ada.lovelace@partner.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_item_reject(item=item, actor=msp.account_manager, reason="Not one of our staff.")
    [message] = mails_to(item.request.submitted_by.display_email)
    assert message.subject == "Portal request for ada.lovelace@partner.example: rejected"
    assert "Rejected: reason: Not one of our staff." in message.body


# --- held items (R9): released after a sync, or expired ---------------------------------------------------------------


def test_a_held_item_is_released_and_invited_once_the_person_appears(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "Nia.Newcomer@Partner.example", "Nia"), django_capture_on_commit_callbacks)
    directory_load(msp, ADA, DAN, NIA)
    with django_capture_on_commit_callbacks(execute=True):
        released = held_items_recheck(partner_id=msp.pk)
    item.refresh_from_db()
    assert (released, item.state) == (1, ItemState.INVITED)
    assert Invite.objects.get(item=item).state == InviteState.SENT
    assert len(mails_to("Nia.Newcomer@Partner.example")) == 1


def test_a_held_item_whose_person_is_still_missing_stays_held(msp, django_capture_on_commit_callbacks):
    waiting = approve(item_for(msp, "omar@partner.example"), django_capture_on_commit_callbacks)
    approve(item_for(msp, "nia.newcomer@partner.example"), django_capture_on_commit_callbacks)
    directory_load(msp, ADA, DAN, NIA)
    with django_capture_on_commit_callbacks(execute=True):
        held_items_recheck(partner_id=msp.pk)
    refreshed = RequestItem.objects.get(pk=waiting.pk)
    assert (refreshed.state, refreshed.awaiting_until) == (ItemState.AWAITING_VALIDATION, waiting.awaiting_until)
    assert not Invite.objects.filter(email="omar@partner.example").exists()


def test_a_held_disabled_person_stays_held_until_enabled(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "dan@partner.example"), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert held_items_recheck(partner_id=msp.pk) == 0
    directory_load(msp, ADA, DAN.replace(",no", ",yes"))
    with django_capture_on_commit_callbacks(execute=True):
        assert held_items_recheck(partner_id=msp.pk) == 1
    item.refresh_from_db()
    assert item.state == ItemState.INVITED


def test_a_held_address_that_appears_as_an_alias_becomes_invalid_with_the_primary_suggested(
    msp, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, "nia@partner.example"), django_capture_on_commit_callbacks)
    directory_load(msp, ADA, DAN, NIA.replace(",,,yes", ",nia@partner.example,,yes"))
    with django_capture_on_commit_callbacks(execute=True):
        held_items_recheck(partner_id=msp.pk)
    item.refresh_from_db()
    assert (item.state, item.suggested_email) == (ItemState.INVALID_ADDRESS, "nia.newcomer@partner.example")


def test_the_recheck_releases_other_items_past_one_that_cannot_be_invited(msp, django_capture_on_commit_callbacks):
    # Nia was asked for in two lists and both were held. Once she appears the first is invited, and the
    # second cannot get an invite of its own (one open invite per person): that must not stop Omar's release.
    first = approve(item_for(msp, "nia.newcomer@partner.example"), django_capture_on_commit_callbacks)
    approve(item_for(msp, "Nia.Newcomer@partner.example"), django_capture_on_commit_callbacks)
    omar = approve(item_for(msp, "omar@partner.example"), django_capture_on_commit_callbacks)
    directory_load(msp, ADA, DAN, NIA, "Omar Later,omar@partner.example,,,yes\n")
    with django_capture_on_commit_callbacks(execute=True):
        held_items_recheck(partner_id=msp.pk)
    first.refresh_from_db()
    omar.refresh_from_db()
    assert (first.state, omar.state) == (ItemState.INVITED, ItemState.INVITED)
    assert len(mails_to("omar@partner.example")) == 1


def test_a_held_item_past_its_time_expires_and_requester_and_account_manager_are_told_why(
    msp, settings, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, "omar@partner.example", "Omar"), django_capture_on_commit_callbacks)
    mail.outbox.clear()
    expired = expire_at(item.awaiting_until + datetime.timedelta(minutes=1), django_capture_on_commit_callbacks)
    item.refresh_from_db()
    assert (expired, item.state) == (1, ItemState.EXPIRED)
    requester, manager = item.request.submitted_by.display_email, msp.account_manager.display_email
    assert sorted(message.to[0] for message in mail.outbox) == sorted([requester, manager])
    for message in mail.outbox:
        assert message.subject == "Portal request for omar@partner.example expired"
        assert f"waited {settings.AWAITING_VALIDATION_EXPIRY_DAYS} days" in message.body
        assert "did not" in message.body
        assert "primary address" in message.body


def test_a_held_item_within_its_time_does_not_expire(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "omar@partner.example"), django_capture_on_commit_callbacks)
    mail.outbox.clear()
    assert expire_at(item.awaiting_until - datetime.timedelta(minutes=1), django_capture_on_commit_callbacks) == 0
    item.refresh_from_db()
    assert item.state == ItemState.AWAITING_VALIDATION
    assert mail.outbox == []


# --- the audit trail --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partner_fixture", "email", "actions"),
    [
        ("msp", "ada.lovelace@partner.example", ["request.item_approved", "request.item_validated"]),
        ("msp", "ada@partner.example", ["request.item_approved", "request.item_invalid_address"]),
        ("msp", "omar@partner.example", ["request.item_approved", "request.item_awaiting_validation"]),
        ("reseller", "rita@resell.example", ["request.item_approved", "request.item_account_created"]),
    ],
    ids=["validated", "invalid address", "awaiting validation", "account created"],
)
def test_every_approval_transition_is_audited_with_the_account_manager_as_actor(
    request, partner_fixture, email, actions, django_capture_on_commit_callbacks
):
    partner = request.getfixturevalue(partner_fixture)
    item = approve(item_for(partner, email), django_capture_on_commit_callbacks)
    assert trail(item) == [(action, partner.account_manager.pk) for action in actions]


def test_a_rejection_is_audited_with_its_actor_and_reason(msp):
    item = item_for(msp, "ada.lovelace@partner.example")
    request_item_reject(item=item, actor=msp.account_manager, reason="Not one of our staff.")
    event = AuditEvent.objects.get(action="request.item_rejected")
    assert (event.actor, event.partner_id, event.target_id) == (msp.account_manager, msp.pk, str(item.pk))
    assert event.data == {"reason": "Not one of our staff."}


def test_an_invite_is_audited_as_created_by_the_account_manager_and_sent_by_the_system(
    msp, django_capture_on_commit_callbacks
):
    item = approve(item_for(msp, "ada.lovelace@partner.example"), django_capture_on_commit_callbacks)
    invite = Invite.objects.get(item=item)
    events = AuditEvent.objects.filter(target_type="onboarding.invite", target_id=str(invite.pk)).order_by("id")
    assert list(events.values_list("action", "actor_id")) == [
        ("invite.created", msp.account_manager.pk), ("invite.sent", None)]


def test_a_release_after_a_sync_is_audited_as_done_by_the_system(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "nia.newcomer@partner.example"), django_capture_on_commit_callbacks)
    directory_load(msp, ADA, DAN, NIA)
    with django_capture_on_commit_callbacks(execute=True):
        held_items_recheck(partner_id=msp.pk)
    assert trail(item)[-1] == ("request.item_validated", None)


def test_an_expiry_is_audited_as_done_by_the_system(msp, django_capture_on_commit_callbacks):
    item = approve(item_for(msp, "omar@partner.example"), django_capture_on_commit_callbacks)
    expire_at(item.awaiting_until + datetime.timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert trail(item)[-1] == ("request.item_expired", None)
