"""Celery tasks of core: sending mail, and the outbox's sweeper."""

import smtplib
from collections.abc import Callable

from celery import shared_task
from django.conf import settings

from core.api.idempotency import idempotency_records_purge
from core.mail import MailDeferred, outbound_mail_send, outbox_sweep
from core.mail_render import mail_message


# The name is what the broker carries: it stays "portal.send_mail" (where the task lived first),
# so that mail queued before an upgrade is still sent after it.
@shared_task(
    name="portal.send_mail",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=settings.INVITE_SEND_RETRY_BACKOFF,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def send_mail_task(*, to: list[str], subject: str, body: str, html: str = "") -> int:
    """Send one mail (text, and its HTML alternative if any); an SMTP server that is down or refuses for now is
    retried with backoff. `html` is optional: messages queued before mails had an HTML part still go out."""
    return mail_message(to=to, subject=subject, text=body, html=html).send()


def send_or_retry(task, send: Callable[[], bool]) -> bool:
    """Run a send step in `task`; a try that failed for now is scheduled again at its time, and the
    sweeper backs that up should the retry be lost."""
    try:
        return send()
    except MailDeferred as deferred:
        if task.request.is_eager:
            return False  # in-process (unit tests): the next try is the sweeper's
        # The database caps the tries; Celery's count would restart with every redelivery.
        raise task.retry(countdown=deferred.delay.total_seconds(), max_retries=None) from deferred


@shared_task(name="core.send_outbound_mail", bind=True)
def send_outbound_mail(self, mail_id: int) -> bool:
    """Send one recorded mail (see send_or_retry)."""
    return send_or_retry(self, lambda: outbound_mail_send(mail_id=mail_id))


@shared_task(name="core.outbox_sweep")
def outbox_sweep_task() -> dict:
    """Queue again the mail a lost message or a killed worker left behind (beat runs this every minute)."""
    return outbox_sweep()


@shared_task(name="core.idempotency_purge")
def idempotency_purge_task() -> int:
    """Forget the API's Idempotency-Key answers older than API_IDEMPOTENCY_HOURS (beat runs this every hour)."""
    return idempotency_records_purge()
