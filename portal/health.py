"""GET /healthz: is the database answering, is the broker answering (used by docker-compose).

With a working database it also reports the work waiting and failed (operations_summary), which
never makes it answer 503: those are for an operator to look at, not a reason to restart anything.
"""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app
from portal.operations import operations_summary

logger = logging.getLogger(__name__)


def database_ok() -> bool:
    """True when the default database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database check failed")
        return False


def broker_ok() -> bool:
    """True when a connection to the Celery broker can be established (one try, short timeout)."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True
    except Exception:
        logger.exception("health: broker check failed")
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and the broker answer, 503 otherwise."""
    checks = {"database": database_ok(), "broker": broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", **{k: "ok" if v else "error" for k, v in checks.items()}}
    if checks["database"]:
        body["work"] = operations_summary()
    return JsonResponse(body, status=200 if healthy else 503)
