"""Two database connections at once, for race tests: a thread per connection, and a way to know the second waits.

    holder = Connection(lambda: ...)           # runs in its own thread, on its own database connection
    holder.start()
    wait_until_waiting_for_a_lock()           # PostgreSQL says a backend of this database waits for a lock
    holder.join_or_fail()                      # re-raises what the thread raised

Tests using these need `django_db(transaction=True)`: each thread sees only what the others committed.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

TIMEOUT = 10


class Connection(threading.Thread):
    """Runs `work` in a thread, which Django gives its own database connection (closed at the end)."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # handed to the test thread by join_or_fail
            self.error = exc
        finally:
            connection.close()

    def join_or_fail(self) -> object:
        self.join(TIMEOUT)
        if self.is_alive():
            raise TimeoutError("the thread did not finish (a lock never released?)")
        if self.error is not None:
            raise self.error
        return self.result


def waiting_for_a_lock() -> int:
    """How many backends of the test database wait for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until_waiting_for_a_lock(count: int = 1) -> None:
    """Return once `count` backends wait for a lock (so the race is certain to be the one under test)."""
    deadline = time.monotonic() + TIMEOUT
    while waiting_for_a_lock() < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {count} backend(s) waiting for a lock after {TIMEOUT} s")
        time.sleep(0.02)


def hold_open(work: Callable[[], object]) -> tuple[Connection, threading.Event]:
    """Run `work` in a transaction of another connection and keep it open until the returned event is set."""
    done, release = threading.Event(), threading.Event()

    def hold() -> object:
        with transaction.atomic():
            result = work()
            done.set()
            release.wait(TIMEOUT)
        return result

    holder = Connection(hold)
    holder.start()
    if not done.wait(TIMEOUT):
        release.set()
        holder.join_or_fail()
        raise TimeoutError("the holding transaction did not get its work done")
    return holder, release


@contextmanager
def row_locked(model, pk) -> Iterator[None]:
    """Another connection holds the row's lock (SELECT … FOR UPDATE) while the block runs."""
    holder, release = hold_open(lambda: model.objects.select_for_update().get(pk=pk))
    try:
        yield
    finally:
        release.set()
        holder.join_or_fail()


@contextmanager
def lock_timeout(milliseconds: int = 300) -> Iterator[None]:
    """This test's connection gives up waiting for a lock after `milliseconds` (PostgreSQL's lock_timeout)."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = %s", [milliseconds])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
