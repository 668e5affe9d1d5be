"""Queueing a Celery task by its name once the current transaction commits.

Services queue work this way instead of importing the task module: the task module imports
the services (a task is a thin wrapper around one), so the dependency runs one way. The task
must be registered — each app's `ready()` imports its tasks module — which also lets eager
mode (the unit tests) run it in-process like any other task.

Queueing never fails the request whose transaction decided the work: the work is a row in the
database by then (an invite, a mail), and when the broker cannot take the message, a sweeper
queues it again later. So a broker outage delays mail; it never turns a committed approval into
an error page.
"""

import logging
import time

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# After a publish failed, this process leaves the broker alone for a while: an approval of thirty
# people must not wait out the connection attempts of sixty messages (one per invite and mail).
BROKER_PAUSE_SECONDS = 10.0
_broker_down_until = 0.0


def enqueue(task_name: str, *args, **kwargs) -> bool:
    """Queue `task_name(*args, **kwargs)` now; False (logged) when the broker did not take it."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until and not current_app.conf.task_always_eager:
        logger.info("broker down: %s%r left to the sweeper", task_name, args)
        return False
    try:
        current_app.signature(task_name, args=args, kwargs=kwargs).apply_async()
    except Exception as exc:  # the broker's errors vary by transport (redis, kombu, OSError): none may escape
        if current_app.conf.task_always_eager:
            raise  # in-process (unit tests): the task's own error, not a broker outage
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("could not queue %s%r (%s: %s); a sweeper will queue it again", task_name, args,
                       exc.__class__.__name__, exc)
        return False
    return True


def enqueue_many(task_name: str, calls: list[tuple]) -> int:
    """Queue `task_name(*args)` for each tuple of `calls` through one broker connection (a thousand invites of
    one approval are a thousand messages: one connection from the pool for each costs as much again); how many
    the broker took. A refused publish leaves the rest to the sweepers, as `enqueue` does."""
    global _broker_down_until
    if not calls:
        return 0
    if current_app.conf.task_always_eager:
        return sum(enqueue(task_name, *args) for args in calls)
    if time.monotonic() < _broker_down_until:
        logger.info("broker down: %d messages of %s left to the sweeper", len(calls), task_name)
        return 0
    queued = 0
    try:
        with current_app.producer_or_acquire() as producer:
            for args in calls:
                current_app.signature(task_name, args=args).apply_async(producer=producer)
                queued += 1
    except Exception as exc:  # as in enqueue: none of the transports' errors may escape
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("could not queue %d messages of %s (%s: %s); a sweeper will queue them again",
                       len(calls) - queued, task_name, exc.__class__.__name__, exc)
    return queued


def enqueue_on_commit(task_name: str, *args, **kwargs) -> None:
    """Queue `task_name(*args, **kwargs)` after the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(task_name, *args, **kwargs))
