"""Celery tasks of core: sending one mail."""

import smtplib

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage


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
def send_mail_task(*, to: list[str], subject: str, body: str) -> int:
    """Send one plain-text mail; an SMTP server that is down or refuses for now is retried with backoff."""
    return EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to).send()
