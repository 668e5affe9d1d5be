"""Celery tasks of partners: the reminders before an agreement lapses (beat runs them)."""

from celery import shared_task

from partners.services import agreement_reminders_send


@shared_task(name="partners.agreement_reminders")
def agreement_reminders_task() -> int:
    """Send the reminders due today (30 and 7 days before valid_until); each goes out once, so beat may run this
    as often as it likes."""
    return agreement_reminders_send()
