"""A worker whose shutdown after an unrecoverable error wedges ends itself, so its supervisor restarts it."""

import logging
import threading

from portal import celery as portal_celery


def test_an_unrecoverable_error_ends_the_worker_after_the_grace_period(monkeypatch):
    exited = threading.Event()
    monkeypatch.setattr(portal_celery.os, "_exit", lambda code: exited.set() if code == 1 else None)
    guard = portal_celery._WedgedShutdownGuard(grace_seconds=0.05)
    record = logging.LogRecord("celery.worker.worker", logging.CRITICAL, __file__, 1,
                               "Unrecoverable error: %r", (AttributeError("hostname"),), None)
    guard.handle(record)
    assert exited.wait(timeout=5)


def test_other_critical_lines_leave_the_worker_alone(monkeypatch):
    exited = threading.Event()
    monkeypatch.setattr(portal_celery.os, "_exit", lambda code: exited.set())
    guard = portal_celery._WedgedShutdownGuard(grace_seconds=0.01)
    guard.handle(logging.LogRecord("celery.worker.worker", logging.CRITICAL, __file__, 1, "Disk almost full", (), None))
    assert not exited.wait(timeout=0.3)
