"""Writing a sync's batches in a thread of their own, so that reading, mapping and writing overlap.

While PostgreSQL copies one batch and checks its foreign keys at commit (most of a first sync's
database time), the sync maps the next batch: psycopg2 releases the GIL while it waits. The
thread has its own database connection, so it is used only outside a surrounding transaction
(a CSV import is all or nothing; tests run inside one).
"""

import threading
from collections.abc import Sequence
from queue import Queue

from django.db import connection, transaction

from directory_sync.mapping import Person
from directory_sync.services.writer import Conflict, Writer


class BackgroundWriter:
    """One batch in flight at a time; errors surface in the sync's own thread at the next call."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self._queue: Queue = Queue(maxsize=1)
        self._lock = threading.Lock()
        self._conflicts: list[Conflict] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sync-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            # Connect while the first batch is being read and mapped, not when it is ready: the writer is what
            # a first sync waits for, and a connection costs it tens of milliseconds on a busy server.
            try:
                connection.ensure_connection()
            except BaseException as exc:  # raised at the next call; the loop below drains the queue
                self._error = exc
            while (item := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # keep draining so that close() never blocks
                people, new = item
                try:
                    with transaction.atomic():
                        conflicts = self.writer.write_people(people, new=new)
                    with self._lock:
                        self._conflicts.extend(conflicts)
                except BaseException as exc:  # handed to the sync's thread, never lost
                    self._error = exc
        finally:
            connection.close()  # this thread's own connection

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, people: Sequence[Person], new: set[str]) -> None:
        self._raise()
        self._queue.put((list(people), set(new)))

    def take_conflicts(self) -> list[Conflict]:
        with self._lock:
            conflicts, self._conflicts = self._conflicts, []
        return conflicts

    def close(self) -> list[Conflict]:
        """Wait for the last batch; return the conflicts not yet taken."""
        self._queue.put(None)
        self._thread.join()
        self._raise()
        return self.take_conflicts()
