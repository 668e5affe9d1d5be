"""The CSV source for accounts without a directory server: the whole file is validated first.

Columns (header row required, any order, case-insensitive):
    name, primary, aliases, forwarding, enabled   and optionally   id
`aliases` holds several addresses separated by `;`, `,` or spaces; `enabled` is yes/no,
true/false or 1/0 (empty means yes). Without an `id` column a person is known by their
primary address.

A file over DIRECTORY_CSV_MAX_BYTES is refused before it is read; the rest is read row by row (the
decoded text is never held whole), and reading stops at the first row that cannot be read (not
UTF-8, a NUL, a cell over the csv module's field limit) or that is past DIRECTORY_CSV_MAX_ROWS.
Display names are cleaned of control characters (directory_sync.mapping), not refused.

A change file (ChangeFileParser) has the same columns plus `action` (add, update or remove): the people it
names are changed one by one instead of the whole list being replaced (services/people_edits.py).
"""

import re
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.template.defaultfilters import filesizeformat

from core.csvfiles import csv_records
from core.emails import InvalidEmail, normalize_email
from directory_sync.errors import (
    CSV_ID_TOO_LONG,
    CSV_TOO_LARGE,
    CSV_TOO_MANY_ROWS,
    CsvInvalid,
    CsvTooLarge,
    SkipEntry,
)
from directory_sync.mapping import Person, build_person

REQUIRED = ("name", "primary", "aliases", "forwarding", "enabled")
OPTIONAL = ("id",)
TRUE, FALSE = {"", "yes", "y", "true", "1", "enabled"}, {"no", "n", "false", "0", "disabled"}
# The defaults of the settings of these names.
DIRECTORY_CSV_MAX_BYTES = 50 * 1024 * 1024
DIRECTORY_CSV_MAX_ROWS = 200_000
ID_MAX = 255  # DirectoryUser.external_id


def csv_size_check(size: int) -> None:
    """Refuse a file over DIRECTORY_CSV_MAX_BYTES (CsvTooLarge): call with its size before reading it."""
    limit = getattr(settings, "DIRECTORY_CSV_MAX_BYTES", DIRECTORY_CSV_MAX_BYTES)
    if size > limit:
        raise CsvTooLarge(CSV_TOO_LARGE.format(size=filesizeformat(size), limit=filesizeformat(limit)))


def _split(value: str) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", value.strip()) if part]



def header_checked(row: list[str], columns: tuple[str, ...]) -> list[str]:
    """A file's header row, lowered: every one of `columns` there, no other than those and OPTIONAL, none twice;
    else CsvInvalid naming what is wrong with it (row 1)."""
    header = [column.strip().lower() for column in row]
    missing = [c for c in columns if c not in header]
    unknown = [c for c in header if c not in columns + OPTIONAL]
    reasons = []
    if missing:
        reasons.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        reasons.append(f"unknown column(s): {', '.join(unknown)}")
    if len(set(header)) != len(header):
        reasons.append("a column appears twice")
    if reasons:
        raise CsvInvalid([(1, "; ".join(reasons) + f" (expected: {', '.join(columns)}[, id])")])
    return header

class CsvParser:
    """Reads one file: decode, header, then each row (cells, person, addresses and ids used once).

    Every bad row is collected with its number (1-based, the header is row 1) before the file is
    refused, so that one upload shows everything to fix.
    """

    def __init__(self) -> None:
        self.header: list[str] = []
        self.people: list[Person] = []
        self.problems: list[tuple[int, str]] = []
        self.owners: dict[str, int] = {}  # address or "id:…" -> the first row that used it

    def parse(self, data: bytes | IO[bytes]) -> list[Person]:
        """Every row as a Person, or CsvInvalid listing every bad row (CsvTooLarge for a file over the limit)."""
        file = ContentFile(data) if isinstance(data, bytes | bytearray) else File(data)
        csv_size_check(file.size)
        records = csv_records(file)
        number, cells, unreadable = next(records, (1, [], ""))
        if unreadable:
            raise CsvInvalid([(number, unreadable)])
        self.read_header(cells)
        limit = getattr(settings, "DIRECTORY_CSV_MAX_ROWS", DIRECTORY_CSV_MAX_ROWS)
        for row_number, row, unreadable in records:
            if unreadable:
                self.problems.append((row_number, unreadable))
                break
            if not any(cell.strip() for cell in row):
                continue
            if row_number > limit + 1:
                self.problems.append((row_number, CSV_TOO_MANY_ROWS.format(limit=limit)))
                break
            self.read_row(row_number, row)
        if self.problems:
            raise CsvInvalid(self.problems)
        return self.people

    def read_header(self, row: list[str]) -> None:
        """The column names, each known and present once, the required ones all there; else the file is refused."""
        self.header = header_checked(row, REQUIRED)

    def read_row(self, row_number: int, row: list[str]) -> None:
        """One row: its person is kept, or its problem recorded."""
        if len(row) != len(self.header):
            self.problems.append((row_number, f"{len(row)} columns, expected {len(self.header)}"))
            return
        cells = {column: cell.strip() for column, cell in zip(self.header, row, strict=True)}
        try:
            person = self.person(cells)
        except (InvalidEmail, SkipEntry) as exc:
            self.problems.append((row_number, str(exc) or "no primary address"))
            return
        taken = self.claim(row_number, person, by_id=bool(cells.get("id")))
        if taken:
            self.problems.append((row_number, "; ".join(taken)))
            return
        self.people.append(person)

    @staticmethod
    def person(cells: dict[str, str]) -> Person:
        """The person of one row's cells; raise InvalidEmail or SkipEntry with the reason."""
        enabled = cells["enabled"].lower()
        if enabled not in TRUE | FALSE:
            raise SkipEntry(f"enabled must be yes or no, not {cells['enabled'][:20]!r}")
        if len(cells.get("id", "")) > ID_MAX:
            raise SkipEntry(CSV_ID_TOO_LONG.format(limit=ID_MAX))
        primary = normalize_email(cells["primary"]) if cells["primary"] else ""
        # A malformed alias or forwarding address fails the row (a directory entry would only lose the address).
        for value in _split(cells["aliases"]) + _split(cells["forwarding"]):
            normalize_email(value)
        return build_person(
            external_id=cells.get("id") or primary, dn="", name=cells["name"], disabled=enabled in FALSE,
            primary=cells["primary"], aliases=_split(cells["aliases"]), forwarding=_split(cells["forwarding"]),
        )

    def claim(self, row_number: int, person: Person, *, by_id: bool) -> list[str]:
        """Claim the id (when the file has ids) and addresses for this row; say which earlier rows hold them."""
        taken = []
        keys = [f"id:{person.external_id}"] if by_id else []
        for key in keys + [a.address for a in person.addresses]:
            if key in self.owners:
                what = "id" if key.startswith("id:") else f"address {key}"
                taken.append(f"{what} is already used in row {self.owners[key]}")
            else:
                self.owners[key] = row_number
        return taken


def parse_csv(data: bytes | IO[bytes]) -> list[Person]:
    """Every row of a file (its bytes, or the file) as a Person, or CsvInvalid listing every bad row (1-based, the
    header is row 1); CsvTooLarge, before reading it, for a file over DIRECTORY_CSV_MAX_BYTES."""
    return CsvParser().parse(data)


# -- change files: single rows to add, update or remove, instead of the whole list ------------------------------------

ADD, UPDATE, REMOVE = "add", "update", "remove"
CHANGE_ACTIONS = (ADD, UPDATE, REMOVE)


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a change file: what to do (`action`) to whom (`key`: the row's id, else its primary address).

    `person` is the person's whole new record for an add or an update (as a row of the full list would give
    it), None for a removal."""

    row: int
    action: str
    key: str
    by_id: bool
    person: Person | None


class ChangeFileParser(CsvParser):
    """A change file: the full list's columns plus `action` (add, update or remove), one row per person.

    Add and update rows are read exactly as rows of the full list are; a remove row needs only the person's id
    or primary address. A person (and an address) may appear in one row only. Every bad row is collected with its
    number before the file is refused, as for the full list.
    """

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[Change] = []

    def parse(self, data: bytes | IO[bytes]) -> list[Change]:  # type: ignore[override]
        """Every row as a Change, or CsvInvalid listing every bad row (CsvTooLarge for a file over the limit)."""
        super().parse(data)
        return self.changes

    def read_header(self, row: list[str]) -> None:
        self.header = header_checked(row, ("action", *REQUIRED))

    def read_row(self, row_number: int, row: list[str]) -> None:
        if len(row) != len(self.header):
            self.problems.append((row_number, f"{len(row)} columns, expected {len(self.header)}"))
            return
        cells = {column: cell.strip() for column, cell in zip(self.header, row, strict=True)}
        action = cells["action"].lower()
        try:
            if action not in CHANGE_ACTIONS:
                raise SkipEntry(f"action must be add, update or remove, not {cells['action'][:20]!r}")
            change = self.change(row_number, action, cells)
        except (InvalidEmail, SkipEntry) as exc:
            self.problems.append((row_number, str(exc) or "no primary address"))
            return
        taken = self.claim_change(row_number, change)
        if taken:
            self.problems.append((row_number, "; ".join(taken)))
            return
        self.changes.append(change)

    def change(self, row_number: int, action: str, cells: dict[str, str]) -> Change:
        """The change of one row's cells; raise InvalidEmail or SkipEntry with the reason."""
        by_id = bool(cells.get("id"))
        if action != REMOVE:
            person = self.person(cells)
            return Change(row_number, action, person.external_id, by_id, person)
        if by_id:
            if len(cells["id"]) > ID_MAX:
                raise SkipEntry(CSV_ID_TOO_LONG.format(limit=ID_MAX))
            return Change(row_number, action, cells["id"], True, None)
        if not cells["primary"]:
            raise SkipEntry("a remove row needs the person's id or primary address")
        return Change(row_number, action, normalize_email(cells["primary"]), False, None)

    def claim_change(self, row_number: int, change: Change) -> list[str]:
        """Claim the person and (adds, updates) their addresses for this row; say which earlier rows hold them."""
        taken = []
        addresses = [a.address for a in change.person.addresses] if change.person else []
        for key in [f"person:{change.key}", *addresses]:
            if key in self.owners:
                what = "this person" if key.startswith("person:") else f"address {key}"
                taken.append(f"{what} is already in row {self.owners[key]}")
            else:
                self.owners[key] = row_number
        return taken


def parse_change_file(data: bytes | IO[bytes]) -> list[Change]:
    """Every row of a change file as a Change, or CsvInvalid listing every bad row (1-based, the header is row 1)."""
    return ChangeFileParser().parse(data)
