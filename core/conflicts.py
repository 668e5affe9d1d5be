"""Database conflicts with a concurrent change, turned into a refusal the person can act on.

Services lock what they change and settle the races they know (two approvals of one person);
what may remain — a row inserted first by a concurrent request, a lock not granted in time, a
deadlock, a serialization failure — means "someone changed this at the same time", and trying
again works. Views and admin actions call services inside `conflicts_refused()`, so such a
conflict reaches people as ConcurrentChange (a PortalError, shown like any refusal), never as a
server error. Anything else (a check constraint, a database that is down) stays an error.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError

from core.errors import ConcurrentChange

CONFLICT_SQLSTATES = frozenset({
    "23505",  # unique_violation: the same row inserted first by another transaction
    "23503",  # foreign_key_violation: a referenced row deleted meanwhile
    "23P01",  # exclusion_violation
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available: lock_timeout, or NOWAIT
})


def is_conflict(exc: DatabaseError) -> bool:
    """Whether a database error is a conflict with a concurrent change (by its SQLSTATE)."""
    cause = exc.__cause__  # Django wraps the driver's error; the driver's carries the code
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
    return code in CONFLICT_SQLSTATES


@contextmanager
def conflicts_refused() -> Iterator[None]:
    """Raise ConcurrentChange for a conflict with a concurrent change inside; let everything else through."""
    try:
        yield
    except DatabaseError as exc:
        if not is_conflict(exc):
            raise
        raise ConcurrentChange() from exc
