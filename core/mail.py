"""Sending mail: rendered now, sent by a Celery task once the transaction commits.

Sending from the worker keeps SMTP latency (and failures) out of the request, which also
keeps answers like "we sent you a link" equally fast whether or not a mail went out.
"""

from django.db import transaction
from django.template.loader import render_to_string

from core.tasks import send_mail_task


def mail_send_on_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    """Render `mail/<template>.txt` with `context` and send it to `to` after the current transaction commits."""
    body = render_to_string(f"mail/{template}.txt", context)
    transaction.on_commit(lambda: send_mail_task.delay(to=[to], subject=subject, body=body))
