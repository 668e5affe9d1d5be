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

A passwordless sign-in with a passkey names no address: its failures count against the client only
(`passwordless_failure_record`, under PASSWORDLESS), in the same throttle, so that a client over
SIGNIN_CLIENT_FAILURE_LIMIT can try neither passwords nor passkeys.
"""

import logging

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_credentials, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core.clients import client_ip

logger = logging.getLogger(__name__)

ADDRESS_FAILURES = "portal_address_failures"  # request attribute: the address's failures counted before the check
# The "address" of failed passwordless sign-ins (no address is typed): never an email address, so never locked
# as one, and visible as such in the admin's list of attempts.
PASSWORDLESS = "(passwordless passkey)"


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


def _cool_off_threshold():
    return timezone.now() - settings.AXES_COOLOFF_TIME


def client_throttled(request) -> bool:
    """Whether the request's client has SIGNIN_CLIENT_FAILURE_LIMIT failed sign-ins (passwords or passkeys, any
    address) within the cool-off time: then a passwordless sign-in is refused, as a password would be."""
    client = client_ip(request)
    if not client:
        return False
    counted = AccessAttempt.objects.filter(ip_address=client, attempt_time__gte=_cool_off_threshold())
    failures = counted.aggregate(total=Sum("failures_since_start"))["total"] or 0
    return failures >= settings.SIGNIN_CLIENT_FAILURE_LIMIT


def passwordless_failure_record(request) -> None:
    """Count a failed passwordless sign-in against the request's client (axes' table, under PASSWORDLESS)."""
    client = client_ip(request)
    if not client:
        return
    with transaction.atomic():
        attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
            username=PASSWORDLESS, ip_address=client, user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
            defaults={"http_accept": request.META.get("HTTP_ACCEPT", "")[:1025], "path_info": request.path[:255],
                      "get_data": "", "post_data": "", "failures_since_start": 1},
        )
        if created:
            return
        # Failures before the cool-off time count for nothing: start again from this one.
        expired = attempt.attempt_time < _cool_off_threshold()
        attempt.failures_since_start = 1 if expired else F("failures_since_start") + 1
        attempt.attempt_time = timezone.now()
        attempt.save(update_fields=["failures_since_start", "attempt_time"])
