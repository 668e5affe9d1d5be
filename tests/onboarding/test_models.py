"""Every database constraint of the onboarding models, tried and broken, plus the model helpers."""

import datetime
import secrets

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from onboarding.models import Invite, InviteState, ItemState, RequestItem
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)


def _refused(constraint: str):
    """Expect the database to refuse a write on `constraint`, leaving the test's transaction usable."""
    return pytest.raises(IntegrityError, match=constraint)


# --- Request items -------------------------------------------------------------------------------------------------


def test_request_item_email_is_unique_per_list():
    item = RequestItemFactory(display_email="jane@partner.example")

    with _refused("request_item_unique_email_per_list"), transaction.atomic():
        RequestItemFactory(request=item.request, display_email="Jane@Partner.example")

    assert item.request.items.count() == 1


def test_same_email_on_another_list_is_fine():
    first = RequestItemFactory(display_email="jane@partner.example")
    second_list = PortalUserRequestFactory(partner=first.partner)

    RequestItemFactory(request=second_list, display_email="jane@partner.example")

    assert RequestItem.objects.filter(email="jane@partner.example").count() == 2


def test_request_item_email_must_be_normalised():
    with _refused("request_item_email_normalised"), transaction.atomic():
        RequestItemFactory(display_email="Jane@Partner.example", email="Jane@Partner.example")


def test_rejected_item_needs_a_reason():
    item = RequestItemFactory()
    item.state = ItemState.REJECTED
    item.decided_at = NOW

    with _refused("request_item_rejection_has_reason"), transaction.atomic():
        item.save()

    item.rejection_reason = "Not an employee of the partner."
    item.save()
    assert RequestItem.objects.get(pk=item.pk).state == ItemState.REJECTED


@pytest.mark.parametrize("state", [ItemState.APPROVED, ItemState.VALIDATED, ItemState.INVITED])
def test_decided_item_needs_a_decision_time(state):
    item = RequestItemFactory()
    item.state = state

    with _refused("request_item_decision_has_time"), transaction.atomic():
        item.save()

    assert RequestItem.objects.get(pk=item.pk).state == ItemState.SUBMITTED


def test_held_item_needs_an_expiry():
    item = RequestItemFactory()
    item.state = ItemState.AWAITING_VALIDATION
    item.decided_at = NOW

    with _refused("request_item_held_has_expiry"), transaction.atomic():
        item.save()

    item.awaiting_until = NOW + datetime.timedelta(days=30)
    item.save()
    assert RequestItem.objects.get(pk=item.pk).state == ItemState.AWAITING_VALIDATION


# --- Invites -------------------------------------------------------------------------------------------------------


def _sent(**fields) -> Invite:
    fields.setdefault("token_hash", secrets.token_hex(32))
    return InviteFactory(state=InviteState.SENT, sent_at=timezone.now(), **fields)


@pytest.mark.parametrize("open_state", [InviteState.PENDING, InviteState.SENT, InviteState.FAILED])
def test_second_open_invite_for_same_person_and_partner_is_refused(open_state):
    first = InviteFactory(display_email="jane@partner.example")

    with _refused("invite_one_open_per_person_and_partner"), transaction.atomic():
        extra = {"sent_at": timezone.now(), "token_hash": "b" * 64} if open_state == InviteState.SENT else {}
        InviteFactory(partner=first.partner, display_email="JANE@partner.example", state=open_state, **extra)

    assert first.partner.invites.count() == 1


def test_second_open_invite_is_refused_while_the_first_is_being_sent():
    first = InviteFactory(display_email="jane@partner.example", state=InviteState.SENDING, token_hash="e" * 64,
                          token_nonce="f" * 32)

    with _refused("invite_one_open_per_person_and_partner"), transaction.atomic():
        InviteFactory(partner=first.partner, display_email="jane@partner.example")


@pytest.mark.parametrize("fields", [{"token_nonce": "f" * 32}, {"token_hash": "e" * 64}], ids=["no hash", "no nonce"])
def test_invite_being_sent_needs_its_hash_and_nonce(fields):
    with _refused("invite_sending_has_token"), transaction.atomic():
        InviteFactory(state=InviteState.SENDING, **fields)


def test_new_invite_after_the_first_was_accepted_is_fine():
    first = _sent(display_email="jane@partner.example")
    Invite.objects.filter(pk=first.pk).update(state=InviteState.ACCEPTED, accepted_at=timezone.now())

    InviteFactory(partner=first.partner, display_email="jane@partner.example")

    assert first.partner.invites.count() == 2


def test_new_invite_after_the_first_was_revoked_is_fine():
    first = InviteFactory(display_email="jane@partner.example")
    Invite.objects.filter(pk=first.pk).update(state=InviteState.REVOKED, revoked_at=timezone.now())

    InviteFactory(partner=first.partner, display_email="jane@partner.example")

    assert first.partner.invites.count() == 2


def test_open_invites_for_same_person_on_two_partners_are_fine():
    InviteFactory(display_email="jane@partner.example")
    InviteFactory(display_email="jane@partner.example")

    assert Invite.objects.filter(email="jane@partner.example").count() == 2


def test_invite_token_hash_is_unique():
    _sent(token_hash="c" * 64)

    with _refused("invite_token_hash_unique"), transaction.atomic():
        _sent(token_hash="c" * 64)


def test_unsent_invites_may_share_an_empty_token_hash():
    InviteFactory()
    InviteFactory()

    assert Invite.objects.filter(token_hash__isnull=True).count() == 2


def test_invite_email_must_be_normalised():
    with _refused("invite_email_normalised"), transaction.atomic():
        InviteFactory(display_email="Jane@Partner.example", email="Jane@Partner.example")


def test_sent_invite_needs_a_token_hash():
    with _refused("invite_sent_has_token_and_time"), transaction.atomic():
        InviteFactory(state=InviteState.SENT, sent_at=timezone.now())


def test_sent_invite_needs_a_send_time():
    with _refused("invite_sent_has_token_and_time"), transaction.atomic():
        InviteFactory(state=InviteState.SENT, token_hash="d" * 64)


def test_accepted_invite_needs_an_accept_time():
    invite = _sent()

    with _refused("invite_accepted_has_time"), transaction.atomic():
        Invite.objects.filter(pk=invite.pk).update(state=InviteState.ACCEPTED)

    assert Invite.objects.get(pk=invite.pk).state == InviteState.SENT


def test_revoked_invite_needs_a_revoke_time():
    invite = InviteFactory()

    with _refused("invite_revoked_has_time"), transaction.atomic():
        Invite.objects.filter(pk=invite.pk).update(state=InviteState.REVOKED)


def test_invite_must_expire_after_its_creation():
    with _refused("invite_expires_after_creation"), transaction.atomic():
        InviteFactory(expires_at=timezone.now() - datetime.timedelta(minutes=1))


def _invite(state: InviteState) -> Invite:
    return Invite(state=state, created_at=NOW, expires_at=NOW + datetime.timedelta(days=7))


def test_sent_invite_before_expiry_can_be_accepted():
    invite = _invite(InviteState.SENT)

    assert not invite.is_expired(now=NOW + datetime.timedelta(days=6))
    assert invite.can_accept(now=NOW + datetime.timedelta(days=6))


def test_invite_being_sent_before_expiry_can_be_accepted():
    # The person may click the link before the worker's sent mark lands.
    assert _invite(InviteState.SENDING).can_accept(now=NOW + datetime.timedelta(days=6))
    assert not _invite(InviteState.SENDING).can_accept(now=NOW + datetime.timedelta(days=7))


def test_sent_invite_at_expiry_is_expired_and_cannot_be_accepted():
    invite = _invite(InviteState.SENT)

    assert invite.is_expired(now=invite.expires_at)
    assert not invite.can_accept(now=invite.expires_at)


def test_invite_in_expired_state_is_expired_before_its_time():
    assert _invite(InviteState.EXPIRED).is_expired(now=NOW)


@pytest.mark.parametrize("state", [InviteState.ACCEPTED, InviteState.REVOKED])
def test_closed_invite_is_not_expired_and_cannot_be_accepted(state):
    invite = _invite(state)

    assert not invite.is_expired(now=NOW + datetime.timedelta(days=30))
    assert not invite.can_accept(now=NOW)


@pytest.mark.parametrize("state", [InviteState.PENDING, InviteState.FAILED])
def test_unsent_invite_cannot_be_accepted(state):
    assert not _invite(state).can_accept(now=NOW)


def test_invite_expiry_uses_the_clock_by_default():
    invite = InviteFactory(state=InviteState.FAILED)

    assert not invite.is_expired()
    invite.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    assert invite.is_expired()
