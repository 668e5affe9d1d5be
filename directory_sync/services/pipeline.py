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

_CONNECT = object()  # a queue item: connect now, a batch is coming


class BackgroundWriter:
    """One batch in flight at a time; errors surface in the sync's own thread at the next call."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self._queue: Queue = Queue(maxsize=1)
        self._lock = threading.Lock()
        self._conflicts: list[Conflict] = []
        self._error: BaseException | None = None
        self._connecting = False
        self._thread = threading.Thread(target=self._run, name="sync-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # keep draining so that close() never blocks
                if item is _CONNECT:
                    try:
                        connection.ensure_connection()
                    except BaseException as exc:  # raised at the next call, as a batch's error would be
                        self._error = exc
                    continue
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

    def connect_ahead(self) -> None:
        """Open the thread's connection now, while the first batch is being read and mapped, not when it is
        ready: the writer is what a first sync waits for, and connecting costs it tens of milliseconds on a
        busy server. Only once a run has something to write (a re-sync with nothing changed connects never)."""
        if not self._connecting:
            self._connecting = True
            self._queue.put(_CONNECT)

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
