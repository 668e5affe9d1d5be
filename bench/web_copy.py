"""COPY rows into a model's table: the model's columns, every field not given filled with its default.

The web benchmark's data set is a few hundred thousand rows; one COPY per table writes them in seconds where
bulk_create would take minutes. Reading the columns from the model keeps it working when a field is added
(with a default) later.
"""

from __future__ import annotations

import datetime
import io
import json

from django.db import connection, models
from django.utils import timezone


def _text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(model: type[models.Model], columns: list[str], rows: list[tuple]) -> int:
    """COPY `rows` (values of `columns`, attnames) into the model's table; every other concrete field gets its
    default (computed once: the same for every row), auto_now(_add) fields the current time."""
    if not rows:
        return 0
    now = timezone.now()
    extra_columns, extra_values = [], []
    for f in model._meta.concrete_fields:
        if f.attname in columns:
            continue
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        extra_columns.append(f.column)
        extra_values.append(now if auto else f.get_default())
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    names = [by_attname[c].column for c in columns]
    tail = "\t".join(_text(v) for v in extra_values)
    buffer = io.StringIO()
    for row in rows:
        line = "\t".join(_text(v) for v in row)
        buffer.write(f"{line}\t{tail}\n" if tail else f"{line}\n")
    buffer.seek(0)
    cols = ", ".join(f'"{c}"' for c in names + extra_columns)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f'COPY "{model._meta.db_table}" ({cols}) FROM STDIN', buffer)
    return len(rows)


def move_sequences(*tables_models: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        for model in tables_models:
            table = model._meta.db_table
            # The table name is a model's, not input; the values are parameters.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))",  # noqa: S608
                [table],
            )
