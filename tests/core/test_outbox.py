"""The outbox: a notification is a row before it is queued, sent once in two steps, retried, swept, resent.

SMTP behaviour is the real thing (tests/mail.py's server on loopback); time is moved with time_machine.
"""

import contextlib
import datetime

import pytest
import time_machine
from celery import Celery, current_app
from django.core import mail as django_mail
from django.db import transaction
from django.utils import timezone

from core import queue
from core.errors import MAIL_ALREADY_SENT, PortalError
from core.mail import (
    MailDeferred,
    mail_send_on_commit,
    outbound_mail_resend,
    outbound_mail_send,
    outbox_sweep,
    retry_delay,
    stale_after,
)
from core.models import AuditEvent, MailState, OutboundMail
from core.queue import enqueue
from core.selectors import failed_mail, mail_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(mail_server, settings):
    """Mail goes to a real SMTP server; retries are quick to reason about."""
    mail_server.use(settings)
    settings.MAIL_RETRY_BACKOFF = 30
    settings.MAIL_RETRY_BACKOFF_MAX = 600
    settings.MAIL_SEND_MAX_ATTEMPTS = 3
    return mail_server


def record(**overrides) -> OutboundMail:
    """A recorded notification whose queueing never runs (the test's transaction never commits): as if the
    broker had refused it, or the worker had lost it."""
    fields = {"to": "Ada@Partner.example", "subject": "Your list", "template": "request_item_decided",
              "context": {"item": {"display_email": "ada@partner.example"}, "decision": "approved",
                          "partner": "Acme", "request_url": "http://portal.example/x"}, **overrides}
    return mail_send_on_commit(**fields)


# --- recorded before it is queued ---------------------------------------------------------------------------------


def test_a_notification_is_recorded_in_the_deciding_transaction_and_queued_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        mail = mail_send_on_commit(to="Ada@Partner.example", subject="Hi", template="request_item_decided",
                                   context={"decision": "approved"})
    assert OutboundMail.objects.get(pk=mail.pk).state == MailState.PENDING
    assert django_mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1


def test_a_rolled_back_decision_leaves_no_mail(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        mail_send_on_commit(to="Ada@Partner.example", subject="Hi", template="request_item_decided", context={})
        transaction.set_rollback(True)
    assert not OutboundMail.objects.exists()
    assert django_mail.outbox == []


def test_after_commit_the_worker_sends_it_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail = mail_send_on_commit(to="Ada@Partner.example", subject="Hi", template="request_item_decided",
                                   context={"decision": "approved"}, partner=None)
    [message] = django_mail.outbox
    assert message.to == ["Ada@Partner.example"]
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.SENT, 1)
    assert mail.sent_at is not None
    assert outbound_mail_send(mail_id=mail.pk) is False  # a second task finds it sent
    assert len(django_mail.outbox) == 1


def test_a_mail_carrying_a_secret_is_sent_but_never_stored(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_send_on_commit(to="Ada@Partner.example", subject="Reset", template="password_reset_link",
                                   context={"link": "http://x/secret-token/", "minutes": 60,
                                            "user": {"get_full_name": "Ada"}}, durable=False) is None
    assert "secret-token" in django_mail.outbox[0].body
    assert not OutboundMail.objects.exists()


# --- two steps, and a second task --------------------------------------------------------------------------------


def test_a_mail_being_sent_by_a_live_worker_is_not_sent_again():
    mail = record()
    OutboundMail.objects.filter(pk=mail.pk).update(
        state=MailState.SENDING, attempts=1, next_attempt_at=timezone.now() + stale_after()
    )
    assert outbound_mail_send(mail_id=mail.pk) is False
    assert django_mail.outbox == []


def test_a_mail_whose_worker_died_while_sending_is_sent_once_its_claim_is_stale():
    mail = record()
    claimed = timezone.now()
    OutboundMail.objects.filter(pk=mail.pk).update(
        state=MailState.SENDING, attempts=1, last_attempt_at=claimed, next_attempt_at=claimed + stale_after()
    )
    with time_machine.travel(claimed + stale_after() + datetime.timedelta(seconds=1)):
        assert outbound_mail_send(mail_id=mail.pk) is True
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.SENT, 2)
    assert len(django_mail.outbox) == 1


def test_a_mail_that_no_longer_exists_is_nothing_to_send():
    assert outbound_mail_send(mail_id=987654) is False


# --- SMTP trouble -------------------------------------------------------------------------------------------------


def test_a_refused_try_puts_the_mail_back_with_its_error_and_next_time(smtp):
    mail = record()
    smtp.fail_next(1)
    before = timezone.now()
    with pytest.raises(MailDeferred):
        outbound_mail_send(mail_id=mail.pk)
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.PENDING, 1)
    assert "SMTP" in mail.last_error
    assert mail.next_attempt_at >= before + retry_delay(1)
    assert outbound_mail_send(mail_id=mail.pk) is False  # not due yet: a duplicate task sends nothing
    assert smtp.messages == []


def test_the_try_at_its_time_sends_it(smtp):
    mail = record()
    smtp.fail_next(1)
    with pytest.raises(MailDeferred):
        outbound_mail_send(mail_id=mail.pk)
    with time_machine.travel(timezone.now() + retry_delay(1)):
        assert outbound_mail_send(mail_id=mail.pk) is True
    [message] = smtp.wait_for(1)
    assert message["To"] == "Ada@Partner.example"
    mail.refresh_from_db()
    assert (mail.state, mail.attempts, mail.last_error) == (MailState.SENT, 2, "")


def test_after_the_last_try_the_mail_is_failed_and_audited(smtp):
    mail = record(partner=None)
    smtp.fail_next(3)
    now = timezone.now()
    for attempt in range(1, 4):
        with time_machine.travel(now), contextlib.suppress(MailDeferred):
            outbound_mail_send(mail_id=mail.pk)
        now += retry_delay(attempt)
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.FAILED, 3)
    event = AuditEvent.objects.get(action="mail.failed")
    assert (event.target_id, event.data["attempts"]) == (str(mail.pk), 3)
    assert smtp.messages == []


def test_retries_wait_longer_each_time_up_to_the_ceiling(settings):
    settings.MAIL_RETRY_BACKOFF, settings.MAIL_RETRY_BACKOFF_MAX = 30, 600
    assert [retry_delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


# --- the sweeper --------------------------------------------------------------------------------------------------


def test_the_sweeper_queues_mail_whose_message_was_lost(settings, django_capture_on_commit_callbacks):
    mail = record()  # its queueing never ran: as if the broker had been down at commit
    with time_machine.travel(mail.created_at + stale_after() + datetime.timedelta(seconds=1)):
        assert outbox_sweep() == {"queued": 1, "forgotten": 0}
    mail.refresh_from_db()
    assert mail.state == MailState.SENT  # eager in the unit tests: the queued task ran
    assert len(django_mail.outbox) == 1


def test_the_sweeper_leaves_fresh_mail_to_its_own_message():
    mail = record()
    with time_machine.travel(mail.created_at + datetime.timedelta(seconds=5)):
        assert outbox_sweep()["queued"] == 0
    assert OutboundMail.objects.get(pk=mail.pk).state == MailState.PENDING


def test_the_sweeper_queues_mail_whose_worker_died_while_sending():
    mail = record()
    claimed = timezone.now()
    OutboundMail.objects.filter(pk=mail.pk).update(
        state=MailState.SENDING, attempts=1, last_attempt_at=claimed, next_attempt_at=claimed + stale_after()
    )
    with time_machine.travel(claimed + datetime.timedelta(seconds=5)):
        assert outbox_sweep()["queued"] == 0  # its worker may still be talking to the SMTP server
    with time_machine.travel(claimed + stale_after() + datetime.timedelta(seconds=1)):
        assert outbox_sweep()["queued"] == 1
    assert OutboundMail.objects.get(pk=mail.pk).state == MailState.SENT


def test_the_sweeper_forgets_sent_mail_after_its_keeping_time(settings):
    settings.OUTBOX_KEEP_DAYS = 30
    mail = record()
    outbound_mail_send(mail_id=mail.pk)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        assert outbox_sweep() == {"queued": 0, "forgotten": 1}
    assert not OutboundMail.objects.exists()


def test_a_failed_mail_is_neither_swept_nor_forgotten(smtp):
    mail = record()
    OutboundMail.objects.filter(pk=mail.pk).update(state=MailState.FAILED, attempts=3)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=365)):
        assert outbox_sweep() == {"queued": 0, "forgotten": 0}
    assert OutboundMail.objects.get(pk=mail.pk).state == MailState.FAILED


# --- queueing never fails the request -----------------------------------------------------------------------------


@pytest.fixture
def unreachable_broker():
    """The current Celery app is one whose broker is a port nothing listens on: publishing fails for real."""
    portal_app = current_app._get_current_object()
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:1/0", set_as_current=True)
    unreachable.conf.task_publish_retry_policy = {"max_retries": 0}
    unreachable.conf.broker_connection_timeout = 1
    try:
        yield unreachable
    finally:
        portal_app.set_current()
        queue._broker_down_until = 0.0


def test_a_broker_that_refuses_the_message_does_not_fail_the_caller(unreachable_broker, caplog):
    assert enqueue("core.send_outbound_mail", 1) is False
    assert "a sweeper will queue it again" in caplog.text


def test_after_a_refusal_the_broker_is_left_alone_for_a_while(unreachable_broker, monkeypatch):
    assert enqueue("core.send_outbound_mail", 1) is False
    published = []
    monkeypatch.setattr(unreachable_broker, "send_task", lambda *a, **k: published.append(a))
    assert [enqueue("core.send_outbound_mail", n) for n in range(50)] == [False] * 50
    assert published == []  # fifty more messages cost no connection attempt: the sweeper queues them


# --- resending and reading -----------------------------------------------------------------------------------------


def test_a_failed_mail_can_be_sent_again_from_the_first_try(smtp, django_capture_on_commit_callbacks):
    mail = record()
    OutboundMail.objects.filter(pk=mail.pk).update(state=MailState.FAILED, attempts=3, last_error="451 later")
    with django_capture_on_commit_callbacks(execute=True):
        outbound_mail_resend(mail=mail, actor=None)
    smtp.wait_for(1)
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.SENT, 1)
    assert AuditEvent.objects.filter(action="mail.resent", target_id=str(mail.pk)).exists()


def test_a_sent_mail_is_not_sent_again_by_hand():
    mail = record()
    outbound_mail_send(mail_id=mail.pk)
    with pytest.raises(PortalError, match=str(MAIL_ALREADY_SENT)):
        outbound_mail_resend(mail=mail, actor=None)


def test_operators_see_counts_and_partners_their_failed_mail():
    waiting, failing, gone = record(), record(), record()
    OutboundMail.objects.filter(pk=failing.pk).update(state=MailState.FAILED, partner_id=7)
    outbound_mail_send(mail_id=gone.pk)
    assert mail_counts() == {"pending": 1, "sending": 0, "failed": 1}
    assert [m.pk for m in failed_mail(partner_id=7)] == [failing.pk]
    assert list(failed_mail(partner_id=8)) == []
    assert waiting.pk not in [m.pk for m in failed_mail(partner_id=7)]


def test_a_mail_whose_workers_keep_dying_fails_after_the_last_try(settings):
    settings.MAIL_SEND_MAX_ATTEMPTS = 3
    mail = record()
    claimed = timezone.now()
    OutboundMail.objects.filter(pk=mail.pk).update(
        state=MailState.SENDING, attempts=3, last_attempt_at=claimed, next_attempt_at=claimed + stale_after()
    )
    with time_machine.travel(claimed + stale_after() + datetime.timedelta(seconds=1)):
        assert outbound_mail_send(mail_id=mail.pk) is False
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.FAILED, 3)
    assert "No outcome" in mail.last_error
    assert django_mail.outbox == []
    assert AuditEvent.objects.filter(action="mail.failed", target_id=str(mail.pk)).exists()
