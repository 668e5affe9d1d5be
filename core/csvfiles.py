"""CSV files: reading an upload row by row (decoded one line at a time, never whole in memory), and cells for an
export that a spreadsheet will not run as formulas (`csv_safe_cell`).

The request lists (onboarding) and the directory uploads (directory_sync) read their files this
way, so a large file costs what its rows up to the limit cost, and an undecodable or unparseable
row is a row error like any other instead of a server error.
"""

import codecs
import csv
import itertools
from collections.abc import Iterator

from django.core.files import File

from core.errors import CSV_NOT_UTF8, CSV_UNREADABLE


def _text_lines(file: File) -> Iterator[str]:
    """The file's lines decoded one at a time: UTF-8, with or without the byte-order mark spreadsheets write."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for line in file:  # Django's File splits at \n, \r\n and \r, and never inside a UTF-8 sequence
        yield decoder.decode(line)
    tail = decoder.decode(b"", final=True)  # raises for a file cut off inside a character
    if tail:
        yield tail


def csv_records(file: File) -> Iterator[tuple[int, list[str] | None, str]]:
    """(row number, cells, "") for each row read, the header being row 1; the first row that cannot be read
    (not UTF-8, a NUL, a cell over the csv module's field limit, a stray quote) comes as (number, None,
    reason) and ends the file."""
    reader = csv.reader(_text_lines(file))
    for number in itertools.count(1):
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            yield number, None, CSV_NOT_UTF8
            return
        except csv.Error as exc:
            yield number, None, CSV_UNREADABLE.format(reason=exc)
            return
        yield number, cells, ""


# A cell a spreadsheet would read as a formula (OWASP's CSV injection guidance): `=`, `+`, `-` and `@` start one,
# and a tab or carriage return before them is skipped by some spreadsheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value: object) -> str:
    """A cell for a CSV file people open in a spreadsheet: text that could start a formula gets a leading `'`,
    which spreadsheets show as text instead of running it (a name like `=HYPERLINK(...)` stays a name)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text
