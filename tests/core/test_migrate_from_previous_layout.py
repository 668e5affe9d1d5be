"""Whoever ran the previous layout can pull this one and `migrate` without losing a row.

Partners, their account settings, domains and agreements moved from onboarding to partners, and
the audit trail from portal to core, keeping their tables. migration_drill.py builds a database at
the previous migration state, fills it through the historical models, migrates it and checks every
row, secret, content type, grant and database safeguard with today's models; then it migrates back
and forward again. It runs in a process of its own per database, so that Django is set up against
a scratch database and never touches the suite's: PostgreSQL (a deployment) and SQLite under the
embedded default's settings (`make run`).
"""

import os
import subprocess
import sys
import urllib.parse
import uuid

import psycopg2
import pytest
from django.conf import settings
from psycopg2 import sql

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _maintenance_connection():
    db = settings.DATABASES["default"]
    connection = psycopg2.connect(host=db.get("HOST"), port=db.get("PORT") or None, user=db.get("USER"),
                                  password=db.get("PASSWORD"), dbname="postgres", connect_timeout=5)
    connection.autocommit = True  # CREATE and DROP DATABASE refuse to run in a transaction
    return connection


@pytest.fixture
def scratch_postgresql():
    """The environment of an empty database on the suite's PostgreSQL server, dropped afterwards."""
    db = settings.DATABASES["default"]
    name = f"portal_migration_drill_{uuid.uuid4().hex[:12]}"
    connection = _maintenance_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        user = urllib.parse.quote(db.get("USER") or "", safe="")
        password = urllib.parse.quote(db.get("PASSWORD") or "", safe="")
        host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
        yield {"DJANGO_SETTINGS_MODULE": "portal.settings.test",
               "DATABASE_URL": f"postgres://{user}:{password}@{host}:{port}/{name}"}
    finally:
        with connection.cursor() as cursor:
            # FORCE: a drill that crashed may have left its connection behind.
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.close()


@pytest.fixture
def scratch_sqlite(tmp_path):
    """The environment of `make run`'s embedded default (its settings: WAL, immediate transactions) in a temp folder."""
    return {"DJANGO_SETTINGS_MODULE": "portal.settings.local", "PORTAL_VAR_DIR": str(tmp_path / "var")}


def run_drill(database_env: dict) -> subprocess.CompletedProcess:
    # The suite's own database settings must not leak in: the drill names its database itself.
    inherited = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "-m", "tests.core.migration_drill"],
        cwd=ROOT,
        env={**inherited, **database_env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_a_populated_database_of_the_previous_layout_migrates_without_losing_a_row(vendor, request):
    """Build, fill and migrate a database of the previous layout; the drill exits 0 only if nothing was lost."""
    database_env = request.getfixturevalue(f"scratch_{vendor}")

    result = run_drill(database_env)

    output = f"{result.stdout}\n{result.stderr}".strip()
    print(output)  # what the drill checked, for `pytest -rP` (a failure shows it in the assertion anyway)
    assert result.returncode == 0, f"the migration drill failed on {vendor}:\n{output}"
    assert f"Migration drill on {vendor}" in result.stdout, output  # it ran on the database meant
    assert f"OK on {vendor}: no row lost" in result.stdout, output
