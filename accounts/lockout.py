"""django-axes' database handler with the portal's two limits: per address locked, per client throttled.

axes compares one failure count with one limit. Counting per address and per client under the same
limit (the previous setting) let five failures from a shared address (an office, or the reverse
proxy in front of everyone) lock out other people's right passwords. Here axes counts per address
only (AXES_LOCKOUT_PARAMETERS = ["username"], AXES_FAILURE_LIMIT), and a client whose failures in
the cool-off time reach SIGNIN_CLIENT_FAILURE_LIMIT is refused like a locked address: a password
sprayer trying many addresses from one place is stopped, and people behind the same address are
affected only at that much higher count. The client is core.clients.client_ip.

Both counts come from one query. A successful sign-in resets only its address's failures, and only
when it may have some (expired attempts of everyone are deleted at the next failure; they count for
nothing meanwhile); every sign-in is in the audit trail, so axes' own access log is off
(AXES_DISABLE_ACCESS_LOG).
"""

import logging

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_credentials, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q, Sum

logger = logging.getLogger(__name__)

ADDRESS_FAILURES = "portal_address_failures"  # request attribute: the address's failures counted before the check


def recent_failures(request, credentials=None) -> tuple[int, int]:
    """(failures of the address, failures of the request's client) within the cool-off time, in one query."""
    by_address = Q(username=get_client_username(request, credentials))
    condition, totals = by_address, {"address": Sum("failures_since_start", filter=by_address)}
    client = getattr(request, "axes_ip_address", None)
    if client:
        by_client = Q(ip_address=client)
        condition, totals["client"] = condition | by_client, Sum("failures_since_start", filter=by_client)
    counted = AccessAttempt.objects.filter(condition, attempt_time__gte=get_cool_off_threshold(request))
    counts = counted.aggregate(**totals)
    return counts["address"] or 0, counts.get("client") or 0


def client_failures(request) -> int:
    """Failed sign-ins from the request's client (any address) within the cool-off time."""
    return recent_failures(request)[1]


class PortalAxesHandler(AxesDatabaseHandler):
    """Locks an address after AXES_FAILURE_LIMIT failures, a client after SIGNIN_CLIENT_FAILURE_LIMIT."""

    def get_failures(self, request, credentials=None) -> int:
        failures, from_client = recent_failures(request, credentials)
        setattr(request, ADDRESS_FAILURES, failures)
        if from_client >= settings.SIGNIN_CLIENT_FAILURE_LIMIT:
            # axes locks when this reaches its limit: a throttled client counts as a locked address.
            return max(failures, get_failure_limit(request, credentials))
        return failures

    def user_logged_in(self, sender, request, user, **kwargs):
        """Reset the address's failures, if it may have any. (axes would also delete everyone's expired
        attempts, and log the sign-in: expired attempts count for nothing and are deleted at the next
        failure, and the audit trail has the sign-in.)"""
        if getattr(request, ADDRESS_FAILURES, None) == 0 or not settings.AXES_RESET_ON_SUCCESS:
            return
        credentials = get_credentials(user.get_username())
        # Not counted in this request (the second factor's step): look before deleting, since a
        # delete of nothing still reads and opens a transaction.
        if not any(attempts.exists() for attempts in self.filter_user_attempts(request, credentials)):
            return
        count = self.reset_user_attempts(request, credentials)
        logger.info("AXES: Deleted %d failed login attempts of an address that signed in.", count)
