"""django-axes' database handler with the portal's two limits: per address locked, per client throttled.

axes compares one failure count with one limit. Counting per address and per client under the same
limit (the previous setting) let five failures from a shared address (an office, or the reverse
proxy in front of everyone) lock out other people's right passwords. Here axes counts per address
only (AXES_LOCKOUT_PARAMETERS = ["username"], AXES_FAILURE_LIMIT), and a client whose failures in
the cool-off time reach SIGNIN_CLIENT_FAILURE_LIMIT is refused like a locked address: a password
sprayer trying many addresses from one place is stopped, and people behind the same address are
affected only at that much higher count. The client is core.clients.client_ip.
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def client_failures(request) -> int:
    """Failed sign-ins from the request's client (any address) within the cool-off time."""
    if not getattr(request, "axes_ip_address", None):
        return 0
    attempts = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class PortalAxesHandler(AxesDatabaseHandler):
    """Locks an address after AXES_FAILURE_LIMIT failures, a client after SIGNIN_CLIENT_FAILURE_LIMIT."""

    def get_failures(self, request, credentials=None) -> int:
        failures = super().get_failures(request, credentials)
        if client_failures(request) >= settings.SIGNIN_CLIENT_FAILURE_LIMIT:
            # axes locks when this reaches its limit: a throttled client counts as a locked address.
            return max(failures, get_failure_limit(request, credentials))
        return failures
