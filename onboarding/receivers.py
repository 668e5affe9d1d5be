"""Signal receivers of onboarding: what lower layers announce, and onboarding acts on."""

from core.queue import enqueue
from onboarding.services.domains import request_items_flag_foreign


def recheck_after_sync(sender, run, **kwargs) -> None:
    """A directory sync succeeded (after commit): re-check the account's held requests in a worker."""
    enqueue("onboarding.recheck_held", run.connection.partner_id)


def recheck_after_people_changed(sender, partner_id: int, **kwargs) -> None:
    """A partner admin changed the account's directory people (after commit): the same re-check, in a worker.

    Queued without failing the request that made the change, committed already, should the broker be away (the
    next sync's re-check takes the people then)."""
    enqueue("onboarding.recheck_held", partner_id)


def flag_requests_at_saved_domain(sender, instance, raw: bool = False, **kwargs) -> None:
    """An account domain was saved (the partners admin adds them): flag other partners' open requests there.

    Runs in the saving transaction, so the flags, their audit events and the mail are committed with the
    domain or not at all; partners stays unaware of onboarding."""
    if raw:
        return  # loaddata: a fixture's rows, not a domain someone added
    request_items_flag_foreign(partner_id=instance.partner_id, domain=instance.domain)
