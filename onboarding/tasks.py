"""Celery tasks of onboarding: thin wrappers around the services."""

import smtplib

from celery import Task, shared_task
from django.conf import settings

from onboarding.services.invites import invite_send, invite_send_failed, invites_expire
from onboarding.services.review import held_items_expire, held_items_recheck


class _MarkInviteFailed(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        invite_id = kwargs.get("invite_id", args[0] if args else None)
        if invite_id is not None:
            invite_send_failed(invite_id=invite_id, error=f"{exc.__class__.__name__}: {exc}",
                               attempts=self.request.retries + 1)


@shared_task(
    name="onboarding.send_invite",
    base=_MarkInviteFailed,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=settings.INVITE_SEND_RETRY_BACKOFF,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=6,
)
def send_invite(invite_id: int) -> bool:
    """Mail an invite or welcome link once; SMTP trouble is retried, the last failure marks it failed."""
    return invite_send(invite_id=invite_id)


@shared_task(name="onboarding.recheck_held")
def recheck_held(partner_id: int) -> int:
    """Release requests held for recipient validation whose person has appeared (R9)."""
    return held_items_recheck(partner_id=partner_id)


@shared_task(name="onboarding.expire")
def expire() -> dict:
    """Expire held requests and invites past their time (beat runs this every 15 minutes)."""
    return {"held": held_items_expire(), "invites": invites_expire()}
