"""Project-wide Celery tasks."""

import os
import smtplib
import socket

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage


@shared_task(name="portal.ping")
def ping() -> dict:
    """Answer with where the task ran: used by the health checks and the worker integration test."""
    return {"pong": True, "hostname": socket.gethostname(), "pid": os.getpid()}


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
