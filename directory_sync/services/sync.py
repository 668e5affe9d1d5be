"""The sync engine: one run of a connection, from a stream of entries to the account's people.

A run holds the connection's lock (one RUNNING row per connection, a database constraint),
streams the directory page by page, and writes only people whose content hash changed, in
batches of their own transaction. Destructive changes — disabling and removing people — wait
for the end of a complete run and pass the brake first; a run that fails midway changes
nothing about them. Removals need a full run (an incremental one cannot see deletions).
"""

import datetime
import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from directory_sync.errors import BRAKE, DirectoryError, SyncAlreadyRunning
from directory_sync.mapping import Person, SkipEntry, content_hash
from directory_sync.models import (
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    ProblemKind,
    SyncProblem,
    SyncRun,
    SyncStatus,
)
from directory_sync.services.pipeline import BackgroundWriter
from directory_sync.services.writer import Writer
from directory_sync.signals import sync_run_succeeded

BATCH_SIZE = 5000  # people per write transaction: 5,000 beat 1,000 by ~20% (PERF-NOTES.md)
MAX_PROBLEMS = 1000  # problems kept per run; the counts stay exact
STALE_AFTER = datetime.timedelta(minutes=10)  # a run with no heartbeat for this long is abandoned

ACTIVE, DISABLED, REMOVED = DirectoryUserStatus.ACTIVE, DirectoryUserStatus.DISABLED, DirectoryUserStatus.REMOVED

Mapper = Callable[[object], Person]
Keyer = Callable[[object], "tuple[str, str, str] | None"]  # entry -> (stable id, source digest, change marker)
Progress = Callable[[SyncRun], None]


class RefusedByBrake(Exception):
    """Raised inside an all-or-nothing apply to roll it back when the brake refuses."""


def sync_run_start(
    *, connection: DirectoryConnection, mode: str, dry_run: bool, forced: bool, actor=None
) -> SyncRun:
    """Take the connection's lock by creating its RUNNING run, or raise SyncAlreadyRunning."""
    now = timezone.now()
    # A worker killed mid-run leaves its row RUNNING forever; without a heartbeat it is abandoned.
    SyncRun.objects.filter(connection=connection, status=SyncStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER).update(
        status=SyncStatus.FAILED, finished_at=now, error="Abandoned: the run stopped giving signs of life."
    )
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


def newer_marker(current: str, candidate: str) -> str:
    """The later of two change markers: numbers (uSNChanged) numerically, timestamps as text."""
    if not candidate:
        return current
    if not current:
        return candidate
    if current.isdigit() and candidate.isdigit():
        return candidate if int(candidate) > int(current) else current
    return max(current, candidate)


@dataclass
class _State:
    run: SyncRun
    writer: Writer
    dry_run: bool
    stored: dict[str, tuple[str, str, str]]
    batch: dict[str, Person] = field(default_factory=dict)
    new: set[str] = field(default_factory=set)
    deferred: list[Person] = field(default_factory=list)
    problems: list[SyncProblem] = field(default_factory=list)
    marker: str = ""
    problem_count: int = 0
    background: BackgroundWriter | None = None

    def problem(self, kind: str, *, reason: str, external_id: str = "", dn: str = "", address: str = "") -> None:
        self.problem_count += 1
        if self.problem_count <= MAX_PROBLEMS:
            self.problems.append(SyncProblem(
                run=self.run, kind=kind, external_id=external_id[:255], dn=dn, address=address[:254], reason=reason
            ))

    def flush(self) -> None:
        if not self.dry_run and self.batch:
            if self.background is not None:
                self.background.submit(list(self.batch.values()), self.new)
                self._conflicts(self.background.take_conflicts())
            else:
                with transaction.atomic():
                    self._conflicts(self.writer.write_people(list(self.batch.values()), new=self.new))
        self.batch.clear()
        self.new.clear()
        self._save_problems()

    def drain(self) -> None:
        """Wait for the batches still being written (in the background) and record their conflicts."""
        if self.background is not None:
            background, self.background = self.background, None
            self._conflicts(background.close())
            self._save_problems()

    def _conflicts(self, conflicts) -> None:
        for conflict in conflicts:
            others = ", ".join(f"{dn or ext} ({ext})" for ext, dn in conflict.holders)
            self.problem(
                ProblemKind.CONFLICT, external_id=conflict.claimant_external_id, dn=conflict.claimant_dn,
                address=conflict.address, reason=f"{conflict.address} is also claimed by {others}",
            )

    def _save_problems(self) -> None:
        if self.problems:
            SyncProblem.objects.bulk_create(self.problems)
            self.problems.clear()


def _stored_people(partner_id: int, ids: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """(content hash, status, source hash) of the account's people by stable id: all of them once per
    full run, or those of one page for an incremental run."""
    rows = DirectoryUser.objects.filter(partner_id=partner_id)
    if ids is not None:
        rows = rows.filter(external_id__in=ids)
    rows = rows.values_list("external_id", "content_hash", "status", "source_hash")
    return {ext: (digest, status, source) for ext, digest, status, source in rows.iterator(chunk_size=10_000)}


def _take(state: _State, person: Person) -> None:
    run = state.run
    run.seen += 1
    if not person.content_hash:
        person.content_hash = content_hash(person)
    for note in person.ignored:
        state.problem(ProblemKind.IGNORED_VALUE, external_id=person.external_id, dn=person.dn, reason=note)
    state.marker = newer_marker(state.marker, person.changed)
    before = state.stored.pop(person.external_id, None)
    if before is None:
        run.created += 1
        state.batch[person.external_id] = person
        state.new.add(person.external_id)
    elif before[0] == person.content_hash and before[1] != REMOVED and before[2] == person.source_hash:
        run.unchanged += 1
    elif before[1] == ACTIVE and person.status == DISABLED:
        state.deferred.append(person)  # destructive: applied at the end, after the brake
    else:
        run.updated += 1
        state.batch[person.external_id] = person
    if len(state.batch) >= BATCH_SIZE:
        state.flush()


def sync_apply(
    *, run: SyncRun, pages: Iterable[list], mapper: Mapper, full: bool, force: bool, brake_percent: int,
    keyer: Keyer | None = None, all_or_nothing: bool = False, progress: Progress | None = None,
) -> SyncRun:
    """Apply a stream of entries to the account of `run`'s connection and finish the run.

    `mapper` turns an entry into a Person or raises SkipEntry. `keyer`, when given, reads an
    entry's stable id and source digest without mapping it, so unchanged entries skip mapping.
    With `all_or_nothing` (CSV files) everything happens in one transaction and a refusal by
    the brake writes nothing.
    """
    connection = run.connection
    partner_id = connection.partner_id
    # A full run needs everyone (to find who is gone); an incremental one only who it reads.
    stored = _stored_people(partner_id) if full else {}
    present = (sum(1 for _, status, _ in stored.values() if status != REMOVED) if full else
               DirectoryUser.objects.filter(partner_id=partner_id).exclude(status=REMOVED).count())
    state = _State(run=run, writer=Writer(partner_id=partner_id), dry_run=run.dry_run, stored=stored)
    database = transaction.get_connection()
    if not (all_or_nothing or run.dry_run or database.in_atomic_block) and database.vendor == "postgresql":
        state.background = BackgroundWriter(state.writer)

    def take(entry, key) -> None:
        if key is not None:
            before = state.stored.get(key[0])
            if before is not None and before[2] == key[1] and before[1] != REMOVED:
                # The raw entry is what was written last time: nothing to map, nothing to write.
                del state.stored[key[0]]
                run.seen += 1
                run.unchanged += 1
                state.marker = newer_marker(state.marker, key[2])
                return
        try:
            person = mapper(entry)
        except SkipEntry as exc:
            run.skipped += 1
            dn = entry[0] if isinstance(entry, tuple) else ""
            state.problem(ProblemKind.SKIPPED, dn=str(dn), reason=str(exc))
            if key is not None:
                # The person is still in the directory, only unreadable now: keep them as they were,
                # never count them as gone (a full run would remove them).
                state.stored.pop(key[0], None)
            return
        if key is not None:
            person.source_hash = person.content_hash = key[1]
        _take(state, person)

    def stream() -> None:
        for page in pages:
            keys = [keyer(entry) for entry in page] if keyer else [None] * len(page)
            if not full:
                wanted = [key[0] for key in keys if key is not None]
                state.stored.update(_stored_people(partner_id, ids=wanted) if wanted else {})
            for entry, key in zip(page, keys, strict=True):
                take(entry, key)
            run.pages_done += 1
            run.heartbeat_at = timezone.now()
            SyncRun.objects.filter(pk=run.pk).update(
                pages_done=run.pages_done, seen=run.seen, skipped=run.skipped, heartbeat_at=run.heartbeat_at
            )
            if progress:
                progress(run)
        state.flush()
        state.drain()

    def finish() -> None:
        removals = [ext for ext, (_, status, _) in state.stored.items() if status != REMOVED] if full else []
        destructive = len(state.deferred) + len(removals)
        if destructive and not force and destructive * 100 > brake_percent * max(present, 1):
            run.status = SyncStatus.REFUSED
            run.error = BRAKE.format(
                removed=len(removals), disabled=len(state.deferred), present=present,
                share=100 * destructive / max(present, 1), limit=brake_percent,
            )
            if all_or_nothing:
                raise RefusedByBrake(run.error)
            return
        run.disabled, run.removed = len(state.deferred), len(removals)
        if not run.dry_run:
            with transaction.atomic():
                state.batch.update({p.external_id: p for p in state.deferred})
                state.flush()
                state.writer.remove_people(removals)
                state.writer.resolve_conflicts()
        run.status = SyncStatus.SUCCEEDED

    # A sync makes millions of small objects that live for a page: collecting the generations
    # of long-lived objects (Django's, the stored hashes) over and over costs more than it frees.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 50_000), thresholds[1], thresholds[2])
    try:
        if all_or_nothing:
            try:
                with transaction.atomic():
                    stream()
                    finish()
            except RefusedByBrake:
                run.created = run.updated = run.unchanged = 0
        else:
            try:
                stream()
            finally:
                state.drain()  # batches read before a failure are written, as without the thread
            finish()
    except DirectoryError as exc:
        sync_run_fail(run=run, error=str(exc))
        raise
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return _finish(run=run, state=state, full=full)


def _finish(*, run: SyncRun, state: _State, full: bool) -> SyncRun:
    connection = run.connection
    now = timezone.now()
    with transaction.atomic():
        if not run.dry_run:
            run.conflicts = state.writer.open_conflicts()
        run.finished_at = now
        run.save()
        if state.problems:
            SyncProblem.objects.bulk_create(state.problems)
        if state.problem_count > MAX_PROBLEMS:
            SyncProblem.objects.create(
                run=run, kind=ProblemKind.SKIPPED, reason=f"… and {state.problem_count - MAX_PROBLEMS} more problems"
            )
        if run.status == SyncStatus.SUCCEEDED and not run.dry_run:
            connection.last_sync_at = now
            if full:
                connection.last_full_sync_at = now
            connection.high_water_mark = newer_marker(connection.high_water_mark, state.marker)
            connection.save(update_fields=["last_sync_at", "last_full_sync_at", "high_water_mark", "updated_at"])
            transaction.on_commit(lambda: sync_run_succeeded.send(sender=SyncRun, run=run))
    return run

