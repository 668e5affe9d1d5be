"""Looking into the test database with plain SQL: where a value ended up, whatever the models say."""

from django.db import connection


def text_columns_containing(text: str) -> list[str]:
    """Every text, varchar or JSON column of the database holding `text` anywhere in a value."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb')"
        )
        for table, column in cursor.fetchall():
            table_sql, column_sql = connection.ops.quote_name(table), connection.ops.quote_name(column)
            # Names come from the catalogue, the searched text is a parameter.
            cursor.execute(f"SELECT 1 FROM {table_sql} WHERE strpos({column_sql}::text, %s) > 0 LIMIT 1",  # noqa: S608
                           [text])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found
