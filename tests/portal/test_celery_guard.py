"""A worker whose shutdown after an unrecoverable error wedges ends itself, so its supervisor restarts it."""

import logging
import threading

import pytest
from celery.utils.log import worker_logger

from portal import celery as portal_celery


@pytest.fixture
def guarded(monkeypatch, settings):
    """The guard as a worker installs it at start (short grace), with os._exit recorded instead of run."""
    exited = threading.Event()
    monkeypatch.setattr(portal_celery.os, "_exit", lambda code: exited.set() if code == 1 else None)
    monkeypatch.setitem(portal_celery.app.conf, "worker_wedged_exit_seconds", 0.05)
    before = list(logging.getLogger("celery.worker").handlers)
    portal_celery._guard_wedged_shutdown()
    yield exited
    logging.getLogger("celery.worker").handlers[:] = before


def test_an_unrecoverable_error_logged_by_the_worker_ends_it_after_the_grace_period(guarded):
    # Logged exactly as celery.worker.worker.WorkController.start logs it.
    worker_logger.critical("Unrecoverable error: %r", AttributeError("'NoneType' object has no attribute 'hostname'"))
    assert guarded.wait(timeout=5)


def test_other_critical_lines_leave_the_worker_alone(guarded):
    worker_logger.critical("Disk almost full")
    assert not guarded.wait(timeout=0.3)
