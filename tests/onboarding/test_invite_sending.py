"""Invites mailed in two steps like the outbox: the claim, the derived token, retries at core's times, the cap,
the sweeper, and what a dead worker, a resend, a revocation or an early click leave behind (Celery runs eagerly;
the worker's version is in test_invite_worker.py)."""

import datetime
import hashlib

import pytest
import time_machine
from celery import current_app
from django.core import mail
from django.utils import timezone

from core.mail import MailDeferred, retry_delay, stale_after
from core.models import AuditEvent
from onboarding.errors import INVITE_SEND_ABANDONED
from onboarding.models import Invite, InviteState, ItemState
from onboarding.selectors import invite_by_token, item_timeline
from onboarding.services.acceptance import invite_accept, invite_check
from onboarding.services.invites import (
    invite_create,
    invite_resend,
    invite_revoke,
    invite_send,
    invite_send_claim,
    invite_send_finish,
    invite_token,
    invites_expire,
    invites_sweep,
)
from onboarding.services.review import request_item_approve
from onboarding.tasks import send_invite
from partners.models import PartnerKind
from tests.onboarding.factories import RequestItemFactory
from tests.onboarding.invite_links import mailed_code, mailed_codes
from tests.onboarding.test_invites import IVY, OTTO, PASSWORD, directory_load
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)  # near the real clock: agreements and directories are valid


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, IVY, OTTO)
    return partner


@pytest.fixture
def clock():
    """Time stands still at NOW until a test moves it (`clock.move_to`)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def invite(partner, clock):
    """Ivy's invite, created and not sent (its send task waits for a commit that never comes here)."""
    return invite_create(partner=partner, email="Ivy@Partner.example", name="Ivy Invitee",
                         actor=partner.account_manager)


def mailed_tokens() -> list[str]:
    """The tokens of the invite links in Django's captured mail, oldest first."""
    return [code for message in mail.outbox for code in mailed_codes(message.body)]


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sent_events(invite) -> int:
    return AuditEvent.objects.filter(action="invite.sent", target_id=str(invite.pk)).count()


# --- the token ------------------------------------------------------------------------------------------------------


def test_the_token_is_the_same_for_the_same_nonce_and_new_for_a_new_one(invite):
    invite.token_nonce = "a" * 32
    first = invite_token(invite)
    assert invite_token(invite) == first
    assert len(first) == 43  # HMAC-SHA256, URL-safe base64 without padding
    invite.token_nonce = "b" * 32
    assert invite_token(invite) != first


def test_the_token_depends_on_the_secret_key(invite, settings):
    invite.token_nonce = "a" * 32
    first = invite_token(invite)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdefghij"
    assert invite_token(invite) != first


# --- step one: the claim --------------------------------------------------------------------------------------------


def test_the_claim_marks_the_invite_sending_with_its_nonce_hash_and_stale_time(invite):
    claimed = invite_send_claim(invite_id=invite.pk)
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts, invite.last_attempt_at) == (InviteState.SENDING, 1, NOW)
    assert invite.next_attempt_at == NOW + stale_after()
    assert len(invite.token_nonce) == 32
    assert invite.token_hash == sha256(invite_token(claimed)) == sha256(invite_token(invite))
    assert mail.outbox == []


def test_a_claim_whose_worker_is_alive_is_not_taken_by_a_second_send(invite, clock):
    invite_send_claim(invite_id=invite.pk)
    clock.move_to(NOW + stale_after() - datetime.timedelta(seconds=1))
    assert invite_send(invite_id=invite.pk) is False
    assert mail.outbox == []


def test_sending_mails_the_link_of_the_claimed_nonce_and_marks_it_sent_once(invite):
    assert invite_send(invite_id=invite.pk) is True
    invite.refresh_from_db()
    assert mailed_tokens() == [invite_token(invite)]
    assert (invite.state, invite.sent_at, invite.last_error) == (InviteState.SENT, NOW, "")
    assert sent_events(invite) == 1


# --- a worker that died mid-send ------------------------------------------------------------------------------------


def test_a_stale_claim_is_swept_and_mails_the_link_the_dead_worker_held(invite, clock):
    dead_workers_link = invite_token(invite_send_claim(invite_id=invite.pk))
    clock.move_to(NOW + stale_after())
    assert invites_sweep() == {"queued": 1}
    assert mailed_tokens() == [dead_workers_link]
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 2)
    assert invite_by_token(dead_workers_link).pk == invite.pk
    assert sent_events(invite) == 1


def test_a_worker_that_sent_after_its_claim_went_stale_may_still_mark_the_invite_sent(invite, clock):
    # The slow try and the sweeper's try carry the same link: whichever finishes first marks it, once.
    slow = invite_send_claim(invite_id=invite.pk)
    clock.move_to(NOW + stale_after())
    again = invite_send_claim(invite_id=invite.pk)
    assert invite_token(again) == invite_token(slow)
    assert invite_send_finish(invite=slow) is True
    assert invite_send_finish(invite=again) is False
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 2)
    assert sent_events(invite) == 1


def test_a_stale_claim_at_the_last_try_is_marked_failed_instead_of_tried_again(invite, clock, settings):
    settings.MAIL_SEND_MAX_ATTEMPTS = 1
    invite_send_claim(invite_id=invite.pk)
    clock.move_to(NOW + stale_after())
    assert invite_send(invite_id=invite.pk) is False
    invite.refresh_from_db()
    assert (invite.state, invite.last_error) == (InviteState.FAILED, INVITE_SEND_ABANDONED.format(attempts=1))
    assert AuditEvent.objects.filter(action="invite.send_failed", target_id=str(invite.pk)).count() == 1
    assert mail.outbox == []


def test_a_claim_after_the_secret_key_changed_mints_a_link_that_works(invite, clock, settings):
    invite_send_claim(invite_id=invite.pk)
    settings.SECRET_KEY = "the-rotated-secret-key-for-this-test-only-0123456789abcdef"
    clock.move_to(NOW + stale_after())
    invites_sweep()
    [token] = mailed_tokens()
    assert invite_by_token(token).pk == invite.pk


# --- the sweeper ----------------------------------------------------------------------------------------------------


def test_a_pending_invite_whose_message_was_lost_is_swept_once_it_waited_stale_after(invite, clock):
    clock.move_to(NOW + stale_after() - datetime.timedelta(seconds=1))
    assert invites_sweep() == {"queued": 0}
    clock.move_to(NOW + stale_after())
    assert invites_sweep() == {"queued": 1}
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT
    assert len(mail.outbox) == 1


def test_the_sweep_takes_its_clock_as_an_argument(invite):
    assert invites_sweep(now=NOW) == {"queued": 0}
    assert invites_sweep(now=NOW + stale_after()) == {"queued": 1}


@pytest.mark.parametrize("state", [InviteState.SENT, InviteState.FAILED, InviteState.EXPIRED, InviteState.REVOKED])
def test_the_sweep_leaves_invites_that_are_not_on_their_way_alone(invite, clock, state):
    fields = {"state": state, "token_hash": "f" * 64, "sent_at": NOW, "revoked_at": NOW}
    Invite.objects.filter(pk=invite.pk).update(**fields)
    clock.move_to(NOW + datetime.timedelta(hours=1))
    assert invites_sweep() == {"queued": 0}
    assert mail.outbox == []


def test_the_beat_entry_names_the_registered_sweep_task(settings):
    task = settings.CELERY_BEAT_SCHEDULE["invites-sweep"]["task"]
    assert task == "onboarding.invites_sweep"
    assert task in current_app.tasks


# --- retries --------------------------------------------------------------------------------------------------------


def test_a_failed_try_waits_for_cores_retry_delay_then_mails_the_same_link(invite, clock, settings, mail_server):
    mail_server.use(settings)
    mail_server.fail_next(1)
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    invite.refresh_from_db()
    first_hash = invite.token_hash
    assert invite.next_attempt_at == NOW + retry_delay(1)
    assert invite.last_error.startswith("SMTPDataError")
    clock.move_to(NOW + retry_delay(1) - datetime.timedelta(seconds=2))
    assert invite_send(invite_id=invite.pk) is False  # not due yet
    clock.move_to(NOW + retry_delay(1))
    assert invite_send(invite_id=invite.pk) is True
    [message] = mail_server.wait_for(1)
    token = mailed_code(mail_server.body(message))
    assert sha256(token) == first_hash
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts, invite.last_error) == (InviteState.SENT, 2, "")


def test_after_the_last_try_the_invite_is_failed_with_its_error_and_audited(invite, clock, settings, mail_server):
    settings.MAIL_SEND_MAX_ATTEMPTS = 2
    mail_server.use(settings)
    mail_server.fail_next(2)
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    clock.move_to(NOW + retry_delay(1))
    assert invite_send(invite_id=invite.pk) is False
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.FAILED, 2)
    assert invite.last_error.startswith("SMTPDataError")
    event = AuditEvent.objects.get(action="invite.send_failed", target_id=str(invite.pk))
    assert (event.actor, event.data["attempts"]) == (None, 2)
    assert event.data["error"].startswith("SMTPDataError")
    clock.move_to(NOW + datetime.timedelta(hours=1))
    assert invites_sweep() == {"queued": 0}
    assert mail_server.messages == []


def test_a_failed_invite_shows_on_the_persons_timeline_without_its_error(partner, clock, settings, mail_server):
    settings.MAIL_SEND_MAX_ATTEMPTS = 1
    mail_server.use(settings)
    mail_server.fail_next(1)
    item = RequestItemFactory(request__partner=partner, name="Ivy Invitee", display_email="Ivy@Partner.example")
    request_item_approve(item=item, actor=partner.account_manager)
    invite_send(invite_id=Invite.objects.get(item=item).pk)
    [step] = [step for step in item_timeline(item=item) if step["label"] == "Invitation could not be sent"]
    assert step["detail"] == ""  # partner staff see timelines: the SMTP server's words are for the account manager


def test_an_error_that_is_not_a_passing_smtp_trouble_fails_the_invite_at_once(invite, settings):
    settings.EMAIL_BACKEND = "no.such.EmailBackend"
    with pytest.raises(ImportError):
        invite_send(invite_id=invite.pk)
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.FAILED, 1)
    assert "ImportError" in invite.last_error or "ModuleNotFoundError" in invite.last_error


def test_the_eager_task_returns_after_a_failed_try_leaving_the_retry_to_the_sweeper(invite, settings, mail_server):
    mail_server.use(settings)
    mail_server.fail_next(1)
    assert send_invite.apply(args=[invite.pk]).get() is False
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.PENDING, 1)


# --- resend, revoke, expiry and acceptance of an invite being sent -------------------------------------------------


def test_a_resend_while_sending_kills_the_in_flight_link_and_that_send_cannot_mark_it_sent(invite, partner):
    in_flight = invite_send_claim(invite_id=invite.pk)
    invite_resend(invite=invite, actor=partner.account_manager)
    assert invite_send_finish(invite=in_flight) is False
    assert invite_by_token(invite_token(in_flight)) is None
    assert invite_send(invite_id=invite.pk) is True
    invite.refresh_from_db()
    [token] = mailed_tokens()
    assert token != invite_token(in_flight)
    assert (invite.state, invite_by_token(token).pk, invite.send_attempts) == (InviteState.SENT, invite.pk, 1)


def test_a_sending_invite_can_be_revoked_and_its_send_cannot_mark_it_sent(invite, partner):
    in_flight = invite_send_claim(invite_id=invite.pk)
    invite_revoke(invite=invite, actor=partner.account_manager)
    assert invite_send_finish(invite=in_flight) is False
    invite.refresh_from_db()
    assert (invite.state, invite.token_hash) == (InviteState.REVOKED, None)


def test_a_sending_invite_past_its_expiry_is_expired(invite, clock):
    invite_send_claim(invite_id=invite.pk)
    clock.move_to(invite.expires_at)
    assert invites_expire() == 1
    invite.refresh_from_db()
    assert invite.state == InviteState.EXPIRED


def test_a_link_works_while_its_invite_is_being_sent(partner, clock, django_capture_on_commit_callbacks):
    item = RequestItemFactory(request__partner=partner, name="Ivy Invitee", display_email="Ivy@Partner.example")
    request_item_approve(item=item, actor=partner.account_manager)  # no commit: nothing is queued
    invite = Invite.objects.get(item=item)
    in_flight = invite_send_claim(invite_id=invite.pk)
    # The mail arrived; the person clicks before the worker's sent mark landed.
    opened = invite_by_token(invite_token(in_flight))
    invite_check(opened)
    invite_accept(invite=opened, password=PASSWORD)
    assert invite_send_finish(invite=in_flight) is False
    invite.refresh_from_db()
    item.refresh_from_db()
    assert (invite.state, invite.sent_at, item.state) == (InviteState.ACCEPTED, NOW, ItemState.ACCEPTED)
    actions = AuditEvent.objects.filter(target_id=str(invite.pk), target_type="onboarding.invite")
    assert list(actions.order_by("id").values_list("action", flat=True)) == [
        "invite.created", "invite.sent", "invite.accepted"]


def test_the_link_of_an_invite_waiting_for_its_retry_already_works(invite, settings, mail_server):
    # SMTP may report a failure for a message that did arrive: its link (the retry's too) must work.
    mail_server.use(settings)
    mail_server.fail_next(1)
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    invite.refresh_from_db()
    assert invite.can_accept()
    assert invite_by_token(invite_token(invite)).pk == invite.pk


def test_a_link_used_while_its_retry_waits_is_accepted_and_the_retry_sends_nothing(invite, settings, mail_server):
    mail_server.use(settings)
    mail_server.fail_next(1)  # the server reports a failure, but the person got the link anyway
    with pytest.raises(MailDeferred):
        invite_send(invite_id=invite.pk)
    invite.refresh_from_db()
    invite_accept(invite=invite_by_token(invite_token(invite)), password=PASSWORD)
    with time_machine.travel(timezone.now() + retry_delay(1)):
        assert invite_send(invite_id=invite.pk) is False
    invite.refresh_from_db()
    assert invite.state == InviteState.ACCEPTED
    assert mail_server.messages == []
    actions = list(AuditEvent.objects.filter(target_id=str(invite.pk), target_type="onboarding.invite")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["invite.created", "invite.sent", "invite.accepted"]
