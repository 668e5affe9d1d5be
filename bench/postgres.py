"""What both benchmarks need of PostgreSQL: their database's URL beside the server's maintenance database, and
statements run outside a transaction (CREATE and DROP DATABASE, CHECKPOINT and VACUUM refuse to run in one)."""

from urllib.parse import urlsplit, urlunsplit


class BenchError(RuntimeError):
    """Something broke (not a missed target): the benchmark exits non-zero."""


def database_urls(url: str, *, name: str) -> tuple[str, str]:
    """(the URL of the benchmark's database `name`, the maintenance database's URL) on DATABASE_URL's server."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise BenchError(f"DATABASE_URL must point at PostgreSQL, not {parts.scheme}")
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres"))


def admin_sql(url: str, *statements: str) -> list:
    """Run the statements in autocommit on the database at `url`; each one's rows (None for a statement without)."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    out = []
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                out.append(cursor.fetchall() if cursor.description else None)
    finally:
        conn.close()
    return out


def server_version(url: str) -> str:
    """The server's version number, e.g. 15.20."""
    return admin_sql(url, "SHOW server_version")[0][0][0].split()[0]
