"""Starting runs: a directory sync of an LDAP connection, or the import of a CSV file.

Tasks, commands and admin actions all call these two functions.
"""

import logging

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import enqueue_on_commit
from directory_sync import errors
from directory_sync.mapping import EntryMapper, SourceKeys, requested_attributes, resolve_mapping
from directory_sync.models import DirectoryConnection, SourceKind, SyncMode, SyncRun
from directory_sync.services.lifecycle import sync_run_audit, sync_run_fail, sync_run_start
from directory_sync.services.sync import Progress, sync_apply
from directory_sync.sources import ldap as ldap_source
from directory_sync.sources.csv_file import parse_csv

logger = logging.getLogger(__name__)


def directory_sync_run(
    *, connection: DirectoryConnection, full: bool = False, dry_run: bool = False, force: bool = False,
    actor=None, progress: Progress | None = None,
) -> SyncRun:
    """Run one sync of an LDAP connection and return its run (succeeded, failed or refused).

    Without `full`, the run is incremental when an earlier run left a change marker. Raises
    SyncAlreadyRunning when the connection's lock is taken, and DirectoryError (or its subclass
    DirectoryUnavailable) when the directory fails: the failed run is recorded and on `exc.run`.
    """
    if connection.kind != SourceKind.LDAP:
        raise errors.SyncError(errors.CSV_ACCOUNT)
    if not connection.is_enabled:
        raise errors.SyncError(errors.DISABLED_CONNECTION)
    mapping = resolve_mapping(preset=connection.preset, overrides=connection.attribute_overrides)
    incremental = not full and bool(connection.high_water_mark) and bool(mapping["changed"])
    run = sync_run_start(
        connection=connection, mode=SyncMode.INCREMENTAL if incremental else SyncMode.FULL,
        dry_run=dry_run, forced=force, actor=actor,
    )
    search = ldap_source.search_filter(
        user_filter=ldap_source.user_filter(connection),
        changed_attribute=mapping["changed"],
        changed_since=connection.high_water_mark if incremental else "",
    )
    pages = ldap_source.pages(connection, search=search, attributes=requested_attributes(mapping))
    try:
        run = sync_apply(
            run=run, pages=pages, mapper=EntryMapper(mapping), keyer=SourceKeys(mapping), full=not incremental,
            force=force, brake_percent=connection.removal_brake_percent, progress=progress,
        )
    except errors.DirectoryError as exc:
        # sync_apply recorded the failure on the run; callers get both (tasks retry on unavailability).
        sync_run_audit(run=run, actor=actor)
        exc.run = run
        raise
    except errors.SyncRunLost:
        raise  # its row was ended and audited by whoever took it as abandoned
    except BaseException as exc:
        _crashed(run, exc)
        raise
    sync_run_audit(run=run, actor=actor)
    return run


RUN_TASK = "directory_sync.run"  # directory_sync.tasks.run_sync, queued by name


def directory_sync_queue(*, connection: DirectoryConnection, full: bool, actor, request=None) -> DirectoryConnection:
    """Queue a run of a directory server (the connection's request stamped, the task sent once the transaction
    commits), refusing while one runs or waits in the queue, for an account without a server (CSV, SCIM) and for a
    connection switched off; audited. Raises SyncNotQueued."""
    with transaction.atomic():
        connection = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        if connection.kind != SourceKind.LDAP:
            raise errors.SyncNotQueued(errors.CSV_ACCOUNT)
        if not connection.is_enabled:
            raise errors.SyncNotQueued(errors.DISABLED_CONNECTION)
        now = timezone.now()
        if SyncRun.objects.running().filter(connection=connection).exists():
            raise errors.SyncNotQueued(errors.ALREADY_RUNNING)
        if connection.awaits_queued_run(now):
            raise errors.SyncNotQueued(errors.SYNC_QUEUED_ALREADY)
        connection.sync_requested_at = now
        connection.save(update_fields=["sync_requested_at"])
        audit_record(actor=actor, action="directory.sync.queued", target=connection, partner_id=connection.partner_id,
                     data={"full": full}, request=request)
        enqueue_on_commit(RUN_TASK, connection.pk, full=full, force=False, actor_id=getattr(actor, "pk", None))
    return connection


def directory_csv_import(
    *, connection: DirectoryConnection, data: bytes, force: bool = False, dry_run: bool = False, actor=None
) -> SyncRun:
    """Replace an account's people with a CSV file: validated whole first, then written all or nothing.

    Raises CsvInvalid (nothing written) for a file with bad rows. A file that would remove or
    disable more people than the brake allows is refused (the run says so) unless forced.
    """
    if connection.kind != SourceKind.CSV:
        raise errors.SyncError(errors.LDAP_ACCOUNT)
    people = parse_csv(data)
    run = sync_run_start(connection=connection, mode=SyncMode.CSV, dry_run=dry_run, forced=force, actor=actor)
    try:
        run = sync_apply(
            run=run, pages=[people], mapper=lambda person: person, full=True, force=force,
            brake_percent=connection.removal_brake_percent, all_or_nothing=True,
        )
    except errors.SyncRunLost:
        raise  # as above: already ended by whoever took it as abandoned
    except BaseException as exc:
        _crashed(run, exc)
        raise
    sync_run_audit(run=run, actor=actor)
    return run


def _crashed(run: SyncRun, exc: BaseException) -> None:
    """A bug, a time limit or a worker shutting down: the run must not stay "running" (it holds the lock).

    A worker killed outright never gets here; its run is abandoned once stale (lifecycle.py).
    """
    logger.exception("%s crashed", run)
    sync_run_fail(run=run, error=f"Internal error: {exc.__class__.__name__}: {exc}")
