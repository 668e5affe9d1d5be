"""The Celery app: configured from Django settings (CELERY_ namespace), tasks autodiscovered."""

import logging
import os
import threading

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class _WedgedShutdownGuard(logging.Handler):
    """Ends a worker whose shutdown after an unrecoverable error does not end by itself.

    A worker that hits one (a Redis connection lost at the wrong moment: kombu's
    "'NoneType' object has no attribute 'hostname'") shuts down warmly, and a broken broker
    connection can wedge that for ever: alive, consuming nothing, so no restart policy brings a
    new one. After a grace period the process exits; the supervisor starts a fresh worker and the
    sweepers hand it what was left.
    """

    def __init__(self, grace_seconds: float):
        super().__init__(level=logging.CRITICAL)
        self.grace_seconds = grace_seconds

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Unrecoverable error"):
            timer = threading.Timer(self.grace_seconds, os._exit, args=(1,))
            timer.daemon = True  # a shutdown that does end is not held up
            timer.start()


@worker_init.connect
def _guard_wedged_shutdown(sender=None, **kwargs) -> None:
    grace = float(app.conf.get("worker_wedged_exit_seconds") or 15)
    # celery.worker.worker logs through the logger named "celery.worker" (celery.utils.log.worker_logger).
    logging.getLogger("celery.worker").addHandler(_WedgedShutdownGuard(grace))
