"""Celery tasks of onboarding: thin wrappers around the services."""

from celery import shared_task

from core.tasks import send_or_retry
from onboarding.services.invites import (
    invite_send,
    invites_expire,
    invites_remind,
    invites_send_fan_out,
    invites_sweep,
)
from onboarding.services.review import held_items_expire, held_items_recheck


@shared_task(name="onboarding.send_invite", bind=True)
def send_invite(self, invite_id: int) -> bool:
    """Mail an invite or welcome link (see core.tasks.send_or_retry)."""
    return send_or_retry(self, lambda: invite_send(invite_id=invite_id))


@shared_task(name="onboarding.send_invites")
def send_invites(invite_ids: list[int]) -> int:
    """Queue the sends of one approval's many invites from a worker (see invites_send_queue)."""
    return invites_send_fan_out(invite_ids=invite_ids)


@shared_task(name="onboarding.invites_sweep")
def invites_sweep_task() -> dict:
    """Queue again the invites a lost message or a killed worker left behind (beat runs this every minute)."""
    return invites_sweep()


@shared_task(name="onboarding.invites_remind")
def invites_remind_task() -> int:
    """Remind, once, each invited person who has not accepted after INVITE_REMINDER_DAYS (beat runs this hourly)."""
    return invites_remind()


@shared_task(name="onboarding.recheck_held")
def recheck_held(partner_id: int) -> int:
    """Release requests held for recipient validation whose person has appeared (R9)."""
    return held_items_recheck(partner_id=partner_id)


@shared_task(name="onboarding.expire")
def expire() -> dict:
    """Expire held requests and invites past their time (beat runs this every 15 minutes)."""
    return {"held": held_items_expire(), "invites": invites_expire()}
