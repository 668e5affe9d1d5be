"""What an operator wants to see at a glance: work waiting, work failed, syncs gone stale.

Shown on the admin's front page and reported by /healthz (which does not fail on them: a failed
mail is a reason to look, not a reason to take the web server out of the load balancer).
"""

from core.selectors import mail_counts
from directory_sync.selectors import sync_run_counts
from onboarding.selectors import invite_counts


def operations_summary() -> dict[str, dict[str, int]]:
    """Counts of notifications and invites by state (not yet sent, or failed) and of running and stale syncs."""
    return {"mail": mail_counts(), "invites": invite_counts(), "syncs": sync_run_counts()}
