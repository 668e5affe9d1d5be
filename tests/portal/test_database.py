"""The suite runs on PostgreSQL: the invariants below rely on its constraints and triggers."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('server_version_num')::int")
        name, version = cursor.fetchone()
    assert name.startswith("test_")
    assert version >= 150000
