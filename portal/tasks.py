"""The project's own Celery task: a ping that says where it ran."""

import os
import socket

from celery import shared_task


@shared_task(name="portal.ping")
def ping() -> dict:
    """Answer with where the task ran: used by the health checks and the worker integration test."""
    return {"pong": True, "hostname": socket.gethostname(), "pid": os.getpid()}
