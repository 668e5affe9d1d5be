"""Celery tasks of partners: the reminders before an agreement lapses (beat runs them), webhook deliveries, and the
daily refresh of SAML identity providers' metadata."""

from celery import shared_task

from partners.services import agreement_reminders_send
from partners.services.saml import saml_metadata_refresh_all
from partners.services.webhooks import WebhookDeferred, webhook_deliver, webhooks_sweep
from partners.webhooks import DELIVERY_LIMITS


@shared_task(name="partners.agreement_reminders")
def agreement_reminders_task() -> int:
    """Send the reminders due today (30 and 7 days before valid_until); each goes out once, so beat may run this
    as often as it likes."""
    return agreement_reminders_send()


@shared_task(name="partners.deliver_webhook", bind=True, max_retries=None, **DELIVERY_LIMITS)
def deliver_webhook(self, delivery_id: int) -> bool:
    """Try one webhook delivery; a receiver that is down is tried again after the service's backoff (the database
    counts the tries and caps them, so a redelivered message cannot start the count over)."""
    try:
        return webhook_deliver(delivery_id=delivery_id) is not None
    except WebhookDeferred as deferred:
        if self.request.is_eager:
            return False  # in-process (unit tests): the next try is the caller's, at its time
        raise self.retry(countdown=deferred.delay.total_seconds()) from deferred


@shared_task(name="partners.webhooks_sweep")
def webhooks_sweep_task() -> int:
    """Queue again the deliveries a lost message or a killed worker left behind."""
    return webhooks_sweep()


@shared_task(name="partners.saml_metadata_refresh")
def saml_metadata_refresh_task() -> int:
    """Fetch again the metadata of every account that takes it from its identity provider's URL (certificates
    roll over); a provider that does not answer keeps its last good copy."""
    return saml_metadata_refresh_all()
