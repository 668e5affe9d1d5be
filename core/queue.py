"""Queueing a Celery task by its name once the current transaction commits.

Services queue work this way instead of importing the task module: the task module imports
the services (a task is a thin wrapper around one), so the dependency runs one way. The task
must be registered — each app's `ready()` imports its tasks module — which also lets eager
mode (the unit tests) run it in-process like any other task.
"""

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, *args, **kwargs) -> None:
    """Queue `task_name(*args, **kwargs)` after the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: current_app.signature(task_name, args=args, kwargs=kwargs).apply_async())
