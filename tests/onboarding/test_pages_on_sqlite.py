"""On SQLite (the embedded default) the partner list's medians come from one query's spans, and the partner pages
read as many queries for 3 rows as for 30: sqlite_pages_drill.py, in a process of its own on a scratch database."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_partner_pages_are_right_and_bounded_on_sqlite(tmp_path):
    # The suite's own database settings must not leak in: the drill runs under the embedded default's.
    inherited = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.onboarding.sqlite_pages_drill"],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "portal.settings.local", "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{result.stdout}\n{result.stderr}".strip()
    print(output)
    assert result.returncode == 0, output
    assert "Pages drill on sqlite" in result.stdout and "OK on sqlite" in result.stdout, output
