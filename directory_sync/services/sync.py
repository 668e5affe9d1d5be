"""The sync engine: one run of a connection, from a stream of entries to the account's people.

A run holds the connection's lock (one RUNNING row per connection, a database constraint) and a
heartbeat while it lives (services/lifecycle.py), streams the directory page by page, and writes
only people whose content hash changed, in batches of their own transaction. Destructive changes
— disabling and removing people — wait for the end of a complete run and pass the brake first; a
run that fails midway changes nothing about them. Removals need a full run (an incremental one
cannot see deletions).
"""

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from directory_sync.errors import BRAKE, DirectoryError, RefusedByBrake, SkipEntry, SyncRunLost
from directory_sync.mapping import Person, content_hash
from directory_sync.models import (
    DirectoryUser,
    DirectoryUserStatus,
    ProblemKind,
    SyncProblem,
    SyncRun,
    SyncStatus,
)
from directory_sync.services.lifecycle import sync_run_fail, sync_run_heartbeat
from directory_sync.services.pipeline import BackgroundWriter
from directory_sync.services.writer import Writer
from directory_sync.signals import sync_run_succeeded

# People per write transaction. Measured on 100,000 people: batches of 5,000 were 17-20 % faster than of 1,000.
BATCH_SIZE = 5000
# Except the first one when a writer thread writes them: the writer, not the mapping, is what a first sync
# waits for, and it idled while five pages were read and mapped (a tenth of a 20,000-person sync).
FIRST_BATCH_SIZE = 1000
MAX_PROBLEMS = 1000  # problems kept per run; the counts stay exact

ACTIVE, DISABLED, REMOVED = DirectoryUserStatus.ACTIVE, DirectoryUserStatus.DISABLED, DirectoryUserStatus.REMOVED

Mapper = Callable[[object], Person]
Keyer = Callable[[object], "tuple[str, str, str] | None"]  # entry -> (stable id, source digest, change marker)
Progress = Callable[[SyncRun], None]


def newer_marker(current: str, candidate: str) -> str:
    """The later of two change markers: numbers (uSNChanged) numerically, timestamps as text."""
    if not candidate:
        return current
    if not current:
        return candidate
    if current.isdigit() and candidate.isdigit():
        return candidate if int(candidate) > int(current) else current
    return max(current, candidate)


def _stored_people(partner_id: int, ids: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """(content hash, status, source hash) of the account's people by stable id: all of them once per
    full run, or those of one page for an incremental run."""
    rows = DirectoryUser.objects.filter(partner_id=partner_id)
    if ids is not None:
        rows = rows.filter(external_id__in=ids)
    rows = rows.values_list("external_id", "content_hash", "status", "source_hash")
    # Held for the whole run (a re-sync's peak memory): each row's status as one shared string, and a synced
    # person's two equal hashes as one, instead of a fresh copy of each per person (13 MB at 100,000 people).
    statuses = {status: status for status in DirectoryUserStatus.values}
    return {
        ext: (digest, statuses.get(status, status), digest if source == digest else source)
        for ext, digest, status, source in rows.iterator(chunk_size=10_000)
    }


@contextmanager
def _collector_relaxed() -> Iterator[None]:
    """Python's cyclic garbage collector held back for the block.

    A sync makes millions of small objects that live for a page: collecting the generations of
    long-lived objects (Django's, the stored hashes) over and over costs more than it frees.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 50_000), thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class SyncApply:
    """One run's application of a stream of entries to its account, in named steps.

    Per page: key the entries (`read_page`), skip the raw entries that are what was written last
    time, map and classify the others (`take_entry`, `take_person`), and write them in batches
    (`flush`). At the end of a complete run (`end`): the brake, then disables and removals in one
    transaction. Then the run is recorded (`record`).
    """

    def __init__(
        self, *, run: SyncRun, mapper: Mapper, full: bool, force: bool, brake_percent: int,
        keyer: Keyer | None = None, all_or_nothing: bool = False, progress: Progress | None = None,
    ):
        self.run, self.mapper, self.keyer, self.progress = run, mapper, keyer, progress
        self.full, self.force, self.brake_percent, self.all_or_nothing = full, force, brake_percent, all_or_nothing
        self.partner_id = run.connection.partner_id
        self.writer = Writer(partner_id=self.partner_id)
        # A full run needs everyone (to find who is gone); an incremental one only who it reads.
        self.stored = _stored_people(self.partner_id) if full else {}
        self.present = (
            sum(1 for _, status, _ in self.stored.values() if status != REMOVED) if full
            else DirectoryUser.objects.filter(partner_id=self.partner_id).exclude(status=REMOVED).count()
        )
        self.batch: dict[str, Person] = {}
        self.new: set[str] = set()
        self.deferred: list[Person] = []  # people to disable, once the run is complete and the brake agrees
        self.problems: list[SyncProblem] = []
        self.problem_count = 0
        self.marker = ""
        self.background = self._background_writer()
        self.batch_size = min(FIRST_BATCH_SIZE, BATCH_SIZE) if self.background is not None else BATCH_SIZE

    def _background_writer(self) -> BackgroundWriter | None:
        # The writer thread has its own database connection: it cannot join a surrounding transaction.
        database = transaction.get_connection()
        if self.all_or_nothing or self.run.dry_run or database.in_atomic_block or database.vendor != "postgresql":
            return None
        return BackgroundWriter(self.writer)

    def apply(self, pages: Iterable[list]) -> SyncRun:
        """Apply every page, end the run and record it; a failing directory fails the run (and is raised)."""
        with _collector_relaxed(), sync_run_heartbeat(run=self.run):
            try:
                if self.all_or_nothing:
                    self._apply_all_or_nothing(pages)
                else:
                    self._apply_streaming(pages)
            except DirectoryError as exc:
                sync_run_fail(run=self.run, error=str(exc))
                raise
        return self.record()

    def _apply_all_or_nothing(self, pages: Iterable[list]) -> None:
        try:
            with transaction.atomic():
                self.stream(pages)
                self.end()
        except RefusedByBrake:
            self.run.created = self.run.updated = self.run.unchanged = 0

    def _apply_streaming(self, pages: Iterable[list]) -> None:
        try:
            self.stream(pages)
        finally:
            self.drain()  # batches read before a failure are written, as without the thread
        self.end()

    # -- reading ------------------------------------------------------------------------
    def stream(self, pages: Iterable[list]) -> None:
        """Take every entry of every page, and write what they changed."""
        for page in pages:
            self.read_page(page)
        self.flush()
        self.drain()

    def read_page(self, page: list) -> None:
        """Key, take and count one page; the run's row shows the progress, and that it still holds the lock."""
        keys = [self.keyer(entry) for entry in page] if self.keyer else [None] * len(page)
        if not self.full:
            wanted = [key[0] for key in keys if key is not None]
            self.stored.update(_stored_people(self.partner_id, ids=wanted) if wanted else {})
        for entry, key in zip(page, keys, strict=True):
            self.take_entry(entry, key)
        run = self.run
        run.pages_done += 1
        run.heartbeat_at = timezone.now()
        if not self._record_progress():
            # Taken as abandoned while alive (a stall longer than the stale time): another run may hold
            # the lock by now, and two runs must never write (nor disable and remove) at once.
            raise SyncRunLost()
        if self.progress:
            self.progress(run)

    def _record_progress(self) -> bool:
        """Write the run's progress and heartbeat to its row; False when the row is no longer running.

        Once a page, so a commit of its own would wait for the disk a hundred times in a 100,000-person
        run (2.5-4 ms each on a busy server, 0.1 ms without: a tenth of a re-sync). Progress need not
        survive a crash of the database server: the update commits without waiting for the disk
        (`synchronous_commit` off, for this transaction only). It is visible to others at once all the
        same, and whether the run still held its row is decided by the update itself.
        """
        run = self.run
        update = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING)
        fields = {"pages_done": run.pages_done, "seen": run.seen, "skipped": run.skipped,
                  "heartbeat_at": run.heartbeat_at}
        database = transaction.get_connection()
        if database.in_atomic_block or database.vendor != "postgresql":
            return bool(update.update(**fields))
        with transaction.atomic():
            with database.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            return bool(update.update(**fields))

    def take_entry(self, entry, key: tuple[str, str, str] | None) -> None:
        """One entry: nothing to do when its raw form is what was written last time, else map and take it."""
        if key is not None and self._source_unchanged(key):
            return
        try:
            person = self.mapper(entry)
        except SkipEntry as exc:
            self.skip(entry, key, reason=str(exc))
            return
        if key is not None:
            person.source_hash = person.content_hash = key[1]
        self.take_person(person)

    def _source_unchanged(self, key: tuple[str, str, str]) -> bool:
        external_id, digest, changed = key
        before = self.stored.get(external_id)
        if before is None or before[2] != digest or before[1] == REMOVED:
            return False
        del self.stored[external_id]
        self.run.seen += 1
        self.run.unchanged += 1
        self.marker = newer_marker(self.marker, changed)
        return True

    def skip(self, entry, key: tuple[str, str, str] | None, *, reason: str) -> None:
        """An entry that cannot be synced: recorded with its reason, and never counted as gone."""
        self.run.skipped += 1
        dn = entry[0] if isinstance(entry, tuple) else ""
        self.problem(ProblemKind.SKIPPED, dn=str(dn), reason=reason)
        if key is not None:
            # The person is still in the directory, only unreadable now: keep them as they were,
            # never count them as gone (a full run would remove them).
            self.stored.pop(key[0], None)

    def take_person(self, person: Person) -> None:
        """Count one mapped person as created, unchanged, to disable (later) or updated; batch the writes."""
        run = self.run
        run.seen += 1
        if not person.content_hash:
            person.content_hash = content_hash(person)
        for note in person.ignored:
            self.problem(ProblemKind.IGNORED_VALUE, external_id=person.external_id, dn=person.dn, reason=note)
        self.marker = newer_marker(self.marker, person.changed)
        before = self.stored.pop(person.external_id, None)
        if not self.batch and self.background is not None:
            self.background.connect_ahead()  # something may be written: have the writer's connection ready
        if before is None:
            run.created += 1
            self.batch[person.external_id] = person
            self.new.add(person.external_id)
        elif before[0] == person.content_hash and before[1] != REMOVED and before[2] == person.source_hash:
            run.unchanged += 1
        elif before[1] == ACTIVE and person.status == DISABLED:
            self.deferred.append(person)  # destructive: applied at the end, after the brake
        else:
            run.updated += 1
            self.batch[person.external_id] = person
        if len(self.batch) >= self.batch_size:
            self.flush()
            self.batch_size = BATCH_SIZE

    # -- writing ------------------------------------------------------------------------
    def flush(self) -> None:
        """Write the batch (in the background when a writer thread runs) and the problems recorded so far."""
        if not self.run.dry_run and self.batch:
            if self.background is not None:
                self.background.submit(list(self.batch.values()), self.new)
                self._record_conflicts(self.background.take_conflicts())
            else:
                with transaction.atomic():
                    self._record_conflicts(self.writer.write_people(list(self.batch.values()), new=self.new))
        self.batch.clear()
        self.new.clear()
        self._save_problems()

    def drain(self) -> None:
        """Wait for the batches still being written (in the background) and record their conflicts."""
        if self.background is not None:
            background, self.background = self.background, None
            self._record_conflicts(background.close())
            self._save_problems()

    def end(self) -> None:
        """The end of a complete run: unless the brake refuses, disable and remove people in one transaction."""
        removals = [ext for ext, (_, status, _) in self.stored.items() if status != REMOVED] if self.full else []
        if self._refused_by_brake(removals):
            return
        run = self.run
        run.disabled, run.removed = len(self.deferred), len(removals)
        if not run.dry_run:
            with transaction.atomic():
                self.batch.update({p.external_id: p for p in self.deferred})
                self.flush()
                self.writer.remove_people(removals)
                self.writer.resolve_conflicts()
        run.status = SyncStatus.SUCCEEDED

    def _refused_by_brake(self, removals: list[str]) -> bool:
        destructive = len(self.deferred) + len(removals)
        present = max(self.present, 1)
        if not destructive or self.force or destructive * 100 <= self.brake_percent * present:
            return False
        self.run.status = SyncStatus.REFUSED
        self.run.error = BRAKE.format(
            removed=len(removals), disabled=len(self.deferred), present=self.present,
            share=100 * destructive / present, limit=self.brake_percent,
        )
        if self.all_or_nothing:
            raise RefusedByBrake(self.run.error)
        return True

    def record(self) -> SyncRun:
        """Save the run with its problems; a successful one moves the connection's change marker and is announced."""
        run, connection, now = self.run, self.run.connection, timezone.now()
        with transaction.atomic():
            if not run.dry_run:
                run.conflicts = self.writer.open_conflicts()
            run.finished_at = now
            run.save()
            self._save_problems()
            if self.problem_count > MAX_PROBLEMS:
                SyncProblem.objects.create(
                    run=run, kind=ProblemKind.SKIPPED, reason=f"… and {self.problem_count - MAX_PROBLEMS} more problems"
                )
            if run.status == SyncStatus.SUCCEEDED and not run.dry_run:
                connection.last_sync_at = now
                if self.full:
                    connection.last_full_sync_at = now
                connection.high_water_mark = newer_marker(connection.high_water_mark, self.marker)
                connection.save(update_fields=["last_sync_at", "last_full_sync_at", "high_water_mark", "updated_at"])
                transaction.on_commit(lambda: sync_run_succeeded.send(sender=SyncRun, run=run))
        return run

    # -- problems -----------------------------------------------------------------------
    def problem(self, kind: str, *, reason: str, external_id: str = "", dn: str = "", address: str = "") -> None:
        """Record a problem of the run; past MAX_PROBLEMS only the count goes on."""
        self.problem_count += 1
        if self.problem_count <= MAX_PROBLEMS:
            self.problems.append(SyncProblem(
                run=self.run, kind=kind, external_id=external_id[:255], dn=dn, address=address[:254], reason=reason
            ))

    def _record_conflicts(self, conflicts) -> None:
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
    return SyncApply(
        run=run, mapper=mapper, full=full, force=force, brake_percent=brake_percent, keyer=keyer,
        all_or_nothing=all_or_nothing, progress=progress,
    ).apply(pages)
