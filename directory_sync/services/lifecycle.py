"""A run's life around the engine: it takes its connection's lock, proves it is alive, and ends audited.

The lock is the run's RUNNING row (one per connection, a database constraint). A worker killed
mid-run (kill -9, out of memory, a lost host) cannot give it back, so a running run writes its
heartbeat from a thread of its own every SYNC_HEARTBEAT_SECONDS, whatever its pages are doing (a
slow page is not a dead run), and a run that missed SYNC_STALE_BEATS beats is abandoned: failed,
audited, its lock free. The dispatcher (every minute) and the start of every run abandon stale runs
through `sync_runs_abandon`, so a crash delays the next scheduled run by the stale time and one
dispatch at most (90 s + 1 min by default).
"""

import datetime
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db import connection as database
from django.utils import timezone

from core.audit import audit_record
from directory_sync.errors import ABANDONED, SyncAlreadyRunning
from directory_sync.models import DirectoryConnection, SyncRun, SyncStatus

logger = logging.getLogger(__name__)

ABANDONED_ACTION = "directory.sync.abandoned"  # its own action: a crash is what operators look for
STOP_TIMEOUT = 10  # seconds to wait for the heartbeat thread's last write when the run ends


def sync_run_start(
    *, connection: DirectoryConnection, mode: str, dry_run: bool, forced: bool, actor=None
) -> SyncRun:
    """Take the connection's lock by creating its RUNNING run, or raise SyncAlreadyRunning."""
    # A run whose worker died still holds the lock; once stale, it gives way here (or at the next dispatch).
    sync_runs_abandon(connection=connection)
    now = timezone.now()
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                connection=connection, mode=mode, dry_run=dry_run, forced=forced,
                triggered_by=actor if getattr(actor, "pk", None) else None, started_at=now, heartbeat_at=now,
            )
    except IntegrityError as exc:
        raise SyncAlreadyRunning() from exc


def sync_run_fail(*, run: SyncRun, error: str) -> SyncRun:
    """End a run as failed with its error, keeping the counts it reached."""
    run.status = SyncStatus.FAILED
    run.error = error
    run.finished_at = timezone.now()
    run.save()
    return run


def sync_run_audit(*, run: SyncRun, actor, action: str = "") -> None:
    """Record how a run ended (`directory.sync.<status>` unless `action` says otherwise); dry runs are not."""
    if run.dry_run:
        return
    with transaction.atomic():
        audit_record(
            actor=actor, action=action or f"directory.sync.{run.status}", target=run,
            partner=run.connection.partner,
            data={
                "mode": run.mode, "forced": run.forced, "seen": run.seen, "created": run.created,
                "updated": run.updated, "disabled": run.disabled, "removed": run.removed,
                "skipped": run.skipped, "conflicts": run.conflicts, "error": run.error[:500],
                "started_at": run.started_at.isoformat(),
                "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
            },
        )


def sync_runs_abandon(
    *, now: datetime.datetime | None = None, connection: DirectoryConnection | None = None
) -> list[SyncRun]:
    """End the running runs that stopped beating (of one connection, or all) as failed and audited; return them.

    Never sends `sync_run_succeeded`: nothing the run wrote is announced, the next successful run is.
    """
    now = now or timezone.now()
    stale = SyncRun.objects.stale(now=now).select_related("connection__partner")
    if connection is not None:
        stale = stale.filter(connection=connection)
    with transaction.atomic():
        # skip_locked: a row locked by another transaction is being written by its own (live) run,
        # or being abandoned by a concurrent dispatcher; either way it is not ours to end.
        runs = list(stale.select_for_update(skip_locked=True, of=("self",)))
        for run in runs:
            run.status, run.finished_at, run.error = SyncStatus.FAILED, now, ABANDONED
            run.save(update_fields=["status", "finished_at", "error"])
            sync_run_audit(run=run, actor=None, action=ABANDONED_ACTION)
            logger.warning("%s abandoned: no heartbeat since %s", run, run.heartbeat_at or run.started_at)
    return runs


class Heartbeat:
    """A daemon thread that writes a running run's `heartbeat_at` every `interval` seconds, on its own connection.

    It beats until stopped, or until its run is no longer running (ended, or abandoned by others).
    The sync's own thread never waits for it, except for one last write when the run ends.
    """

    def __init__(self, run_id: int, *, interval: float | None = None):
        self.run_id = run_id
        self.interval = interval if interval is not None else settings.SYNC_HEARTBEAT_SECONDS
        self.beats = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sync-heartbeat-{run_id}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread, which closes its database connection."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT)

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def beat(self) -> bool:
        """Write one heartbeat; False once the run is no longer running."""
        written = SyncRun.objects.filter(pk=self.run_id, status=SyncStatus.RUNNING).update(heartbeat_at=timezone.now())
        self.beats += written
        return bool(written)

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    if not self.beat():
                        return
                except DatabaseError:
                    # One lost beat is no death: the stale time allows for SYNC_STALE_BEATS of them.
                    logger.warning("heartbeat of sync run %s not written", self.run_id, exc_info=True)
                    database.close()  # reconnect for the next beat
        finally:
            database.close()  # this thread's own connection


@contextmanager
def sync_run_heartbeat(*, run: SyncRun) -> Iterator[Heartbeat | None]:
    """Keep `run` beating for the block (a heartbeat thread, stopped in any case at the end)."""
    if transaction.get_connection().in_atomic_block:
        # The run's row is not committed yet: no other connection (the thread's, the dispatcher's) sees it.
        yield None
        return
    heartbeat = Heartbeat(run.pk).start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()
