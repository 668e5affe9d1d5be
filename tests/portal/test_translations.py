"""German is complete: every translatable string of the code and the templates has its German, and the compiled
catalogues are the ones Django loads.

The catalogues are extracted afresh from a copy of the sources (scripts/makemessages.sh, gettext's xgettext),
so a string added or changed since the German was written arrives in the copy untranslated and fails here,
with its msgid and where it is used. To fix: run scripts/makemessages.sh, translate the new entries, `make`.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

ROOT = Path(__file__).resolve().parents[2]
# What extraction reads (the sources and templates) and writes (the catalogues); nothing else is copied.
SOURCES = ("manage.py", "scripts", "portal", "core", "partners", "directory_sync", "accounts", "onboarding",
           "templates", "locale")
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.mo", "node_modules", "static")


def catalogues(root: Path) -> list[Path]:
    return sorted([*root.glob("locale/de/LC_MESSAGES/django.po"), *root.glob("*/locale/de/LC_MESSAGES/django.po")])


def entries_lacking_german(po: Path) -> list[str]:
    """The untranslated and fuzzy entries of a catalogue, each as 'msgid (where)'."""
    lacking = []
    for selection in ("--untranslated", "--only-fuzzy"):
        listed = subprocess.run(["msgattrib", selection, "--no-obsolete", "--no-wrap", str(po)], check=True,
                                capture_output=True, text=True).stdout
        where = ""
        for line in listed.splitlines():
            if line.startswith("#: "):
                where = line[3:]
            elif line.startswith("msgid ") and line != 'msgid ""':
                lacking.append(f"{line[6:]} ({where})")
    return lacking


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """A copy of the sources with its catalogues brought up to date with them."""
    copy = tmp_path_factory.mktemp("sources")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=NOT_SOURCES)
        else:
            shutil.copy2(source, copy / name)
    environment = {**os.environ, "PYTHON": sys.executable, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    subprocess.run(["bash", "scripts/makemessages.sh"], cwd=copy, env=environment, check=True, capture_output=True)
    return copy


def test_every_string_of_the_code_and_the_templates_has_its_german(extracted):
    found = catalogues(extracted)
    assert {str(po.relative_to(extracted)) for po in found} >= {
        "locale/de/LC_MESSAGES/django.po", "onboarding/locale/de/LC_MESSAGES/django.po",
        "accounts/locale/de/LC_MESSAGES/django.po"}
    lacking = {str(po.relative_to(extracted)): entries_lacking_german(po) for po in found}
    lacking = {po: entries for po, entries in lacking.items() if entries}
    assert lacking == {}, "Untranslated in German (run scripts/makemessages.sh, translate, make): " + "; ".join(
        f"{po}: {', '.join(entries[:20])}" for po, entries in lacking.items())


def test_the_check_finds_a_string_that_has_no_german_yet(extracted, tmp_path):
    po = tmp_path / "django.po"
    po.write_text((extracted / "locale/de/LC_MESSAGES/django.po").read_text()
                  + '\n#: templates/new.html\nmsgid "A sentence added today"\nmsgstr ""\n'
                  + '\n#: templates/new.html\n#, fuzzy\nmsgid "A guess"\nmsgstr "Eine Vermutung"\n')
    assert entries_lacking_german(po) == ['"A sentence added today" (templates/new.html)',
                                          '"A guess" (templates/new.html)']


def test_the_committed_catalogues_are_the_ones_compiled_and_loaded():
    for po in catalogues(ROOT):
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: `make messages` compiles it"
        assert mo.stat().st_mtime >= po.stat().st_mtime, f"{mo.relative_to(ROOT)} is older than its .po: `make`"
    with translation.override("de"):
        assert gettext("Partner Portal") == "Partnerportal"
        assert gettext("Sign in") == "Anmelden"
        assert ngettext("%(entries)s entry so far.", "%(entries)s entries so far.", 2) % {"entries": 2} != (
            "2 entries so far.")
