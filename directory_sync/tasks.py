"""Celery tasks of directory_sync: thin wrappers around the services."""

import datetime
import logging

from celery import Task, shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from directory_sync.errors import DirectoryUnavailable, SyncAlreadyRunning, SyncRunLost
from directory_sync.models import DirectoryConnection, SourceKind, SyncRun
from directory_sync.services.lifecycle import sync_runs_abandon
from directory_sync.services.runs import directory_sync_run

logger = logging.getLogger(__name__)

# A directory sync may take minutes on a large directory; the global limits are for mail.
SYNC_SOFT_TIME_LIMIT = 60 * 60
SYNC_TIME_LIMIT = SYNC_SOFT_TIME_LIMIT + 5 * 60


class SyncTask(Task):
    """The sync task's class: a retry waiting for its time is a queued run to the dispatcher."""

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        """Stamp the connection's request with the retry's due time: no second run is queued meanwhile."""
        if self.request.is_eager:
            return  # retried at once, in-process: nothing waits in a queue
        when = getattr(einfo.exception, "when", None)  # Celery's Retry: a countdown in seconds, or an eta
        due = when if isinstance(when, datetime.datetime) else timezone.now() + datetime.timedelta(seconds=when or 0)
        connection_id = args[0] if args else kwargs.get("connection_id")
        DirectoryConnection.objects.filter(pk=connection_id).update(sync_requested_at=due)


@shared_task(
    base=SyncTask,
    name="directory_sync.run",
    autoretry_for=(DirectoryUnavailable,),
    retry_backoff=30,
    retry_backoff_max=15 * 60,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT,
    time_limit=SYNC_TIME_LIMIT,
    # A pool process that dies mid-run (out of memory) gives the task back at once; a worker killed
    # whole leaves it to Redis, which hands it out again after its visibility timeout. Either copy is
    # harmless: while the run lives the lock makes it skip, later it is one more sync. The schedule
    # does not wait for it: the dispatcher queues the next run once the dead one is stale.
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_sync(connection_id: int, full: bool = False, force: bool = False, actor_id: int | None = None) -> dict:
    """Sync one connection; retried with backoff while the directory is unreachable."""
    connection = DirectoryConnection.objects.filter(pk=connection_id).select_related("partner").first()
    if connection is None:
        return {"skipped": "connection gone"}
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        run = directory_sync_run(connection=connection, full=full, force=force, actor=actor)
    except SyncAlreadyRunning:
        logger.info("sync of %s skipped: another run holds the lock", connection)
        return {"skipped": "already running"}
    except SyncRunLost:
        logger.warning("sync of %s stopped: it was taken as abandoned while it ran", connection)
        return {"skipped": "taken as abandoned"}
    return {"run": run.pk, "status": run.status}


def _due(connection: DirectoryConnection, now: datetime.datetime) -> bool | None:
    """None when nothing is due, else whether a full run (True) or an incremental one (False) is."""
    full_every = datetime.timedelta(hours=connection.full_every_hours)
    incremental_every = datetime.timedelta(minutes=connection.incremental_every_minutes)
    if connection.full_every_hours and (
        connection.last_full_sync_at is None or connection.last_full_sync_at <= now - full_every
    ):
        return True
    if connection.incremental_every_minutes and (
        connection.last_sync_at is None or connection.last_sync_at <= now - incremental_every
    ):
        return False
    return None


@shared_task(name="directory_sync.dispatch_due")
def dispatch_due() -> list[int]:
    """Queue the runs that are due by each connection's schedule (beat calls this every minute).

    Runs whose worker died are abandoned first, so their connections are queued at this same dispatch.
    """
    now = timezone.now()
    sync_runs_abandon(now=now)
    busy = set(SyncRun.objects.running().values_list("connection_id", flat=True))
    queued = []
    for connection in DirectoryConnection.objects.filter(kind=SourceKind.LDAP, is_enabled=True):
        full = _due(connection, now)
        if full is None or connection.pk in busy or connection.awaits_queued_run(now):
            continue
        DirectoryConnection.objects.filter(pk=connection.pk).update(sync_requested_at=now)
        run_sync.delay(connection.pk, full=full)
        queued.append(connection.pk)
    return queued
