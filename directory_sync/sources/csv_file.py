"""The CSV source for accounts without a directory server: the whole file is validated first.

Columns (header row required, any order, case-insensitive):
    name, primary, aliases, forwarding, enabled   and optionally   id
`aliases` holds several addresses separated by `;`, `,` or spaces; `enabled` is yes/no,
true/false or 1/0 (empty means yes). Without an `id` column a person is known by their
primary address.
"""

import csv
import io
import re

from core.emails import InvalidEmail, normalize_email
from directory_sync.errors import CsvInvalid
from directory_sync.mapping import Person, SkipEntry, build_person

REQUIRED = ("name", "primary", "aliases", "forwarding", "enabled")
OPTIONAL = ("id",)
TRUE, FALSE = {"", "yes", "y", "true", "1", "enabled"}, {"no", "n", "false", "0", "disabled"}
MAX_ROWS = 200_000


def _split(value: str) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", value.strip()) if part]


def parse_csv(data: bytes) -> list[Person]:
    """Every row as a Person, or CsvInvalid listing every bad row (1-based, the header is row 1)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvInvalid([(0, "the file is not UTF-8 text")]) from exc
    reader = csv.reader(io.StringIO(text))
    header = [column.strip().lower() for column in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        reasons = []
        if missing:
            reasons.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            reasons.append(f"unknown column(s): {', '.join(unknown)}")
        if len(set(header)) != len(header):
            reasons.append("a column appears twice")
        raise CsvInvalid([(1, "; ".join(reasons) + f" (expected: {', '.join(REQUIRED)}[, id])")])

    people: list[Person] = []
    problems: list[tuple[int, str]] = []
    owners: dict[str, int] = {}  # address or id -> first row that used it
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if row_number > MAX_ROWS + 1:
            problems.append((row_number, f"the file has more than {MAX_ROWS} rows"))
            break
        if len(row) != len(header):
            problems.append((row_number, f"{len(row)} columns, expected {len(header)}"))
            continue
        cells = {column: cell.strip() for column, cell in zip(header, row, strict=True)}
        enabled = cells["enabled"].lower()
        if enabled not in TRUE | FALSE:
            problems.append((row_number, f"enabled must be yes or no, not {cells['enabled']!r}"))
            continue
        try:
            primary = normalize_email(cells["primary"]) if cells["primary"] else ""
            for value in _split(cells["aliases"]) + _split(cells["forwarding"]):
                normalize_email(value)
            person = build_person(
                external_id=cells.get("id") or primary, dn="", name=cells["name"],
                disabled=enabled in FALSE, primary=cells["primary"], aliases=_split(cells["aliases"]),
                forwarding=_split(cells["forwarding"]),
            )
        except (InvalidEmail, SkipEntry) as exc:
            problems.append((row_number, str(exc) or "no primary address"))
            continue
        row_problems = []
        keys = [f"id:{person.external_id}"] if cells.get("id") else []
        for key in keys + [a.address for a in person.addresses]:
            if key in owners:
                what = "id" if key.startswith("id:") else f"address {key}"
                row_problems.append(f"{what} is already used in row {owners[key]}")
            else:
                owners[key] = row_number
        if row_problems:
            problems.append((row_number, "; ".join(row_problems)))
            continue
        people.append(person)
    if problems:
        raise CsvInvalid(problems)
    return people
