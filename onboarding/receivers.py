"""Signal receivers of onboarding."""

from onboarding.tasks import recheck_held


def recheck_after_sync(sender, run, **kwargs) -> None:
    """A directory sync succeeded (after commit): re-check the account's held requests in a worker."""
    recheck_held.delay(run.connection.partner_id)
