"""Display names from the directory (LDAP or CSV) are stored without control characters: cleaned, not refused.

A name reaches pages and mail; a line break in it forges lines, a bidi override makes it read as
another. People cannot fix their company's directory from the portal, so the entry is kept and its
name cleaned: line breaks and tabs become a space, other control and format characters go.
"""

import uuid

import pytest

from directory_sync import mapping
from directory_sync.mapping import clean_display_name
from directory_sync.models import DirectoryConnection, DirectoryUser, SourceKind, SyncStatus
from directory_sync.services.runs import directory_csv_import, directory_sync_run
from tests.directory_sync.test_ldap_sync import configure
from tests.ldap_data import ad_person_attrs, write_ad_people
from tests.ldap_server import start_with_people
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

FORGED = "Eve Example\r\nBcc: all@evil.example"


@pytest.mark.parametrize(("raw", "clean"), [
    ("Jo\nNewman", "Jo Newman"),
    (FORGED, "Eve Example Bcc: all@evil.example"),
    ("Tab\tSeparated", "Tab Separated"),
    ("Nul\x00led", "Nulled"),
    ("Bidi \u202eevil\u202c name", "Bidi evil name"),
    ("Zero\u200bwidth", "Zerowidth"),
    ("Line\u2028separator", "Line separator"),
    ("Zoë O'Brien-Łukasz", "Zoë O'Brien-Łukasz"),
    ("No\u00a0break space", "No\u00a0break space"),
])
def test_control_characters_are_cleaned_from_display_names(raw, clean):
    assert clean_display_name(raw) == clean


@pytest.fixture
def ad(tmp_path):
    slapd, _ = start_with_people(tmp_path, write_ad_people, 3)
    yield slapd
    slapd.stop()


def add_eve(slapd) -> str:
    dn, attrs = ad_person_attrs(4)
    slapd.add(dn, {**attrs, "displayName": [FORGED]})
    return str(uuid.UUID(bytes_le=attrs["objectGUID"][0]))


@pytest.mark.integration
def test_an_ldap_entry_whose_display_name_has_a_line_break_is_stored_without_it(ad):
    eve = add_eve(ad)
    run = directory_sync_run(connection=configure(ad), full=True)
    assert (run.status, run.created, run.skipped) == (SyncStatus.SUCCEEDED, 4, 0)
    assert DirectoryUser.objects.get(external_id=eve).display_name == "Eve Example Bcc: all@evil.example"


@pytest.mark.integration
def test_names_stored_before_the_cleaning_are_cleaned_by_the_next_full_run(ad, monkeypatch):
    eve = add_eve(ad)
    connection = configure(ad)
    # As the previous release mapped it: the name as the directory has it, under the previous mapping version.
    with monkeypatch.context() as previous:
        previous.setattr(mapping, "clean_display_name", lambda name: name)
        previous.setattr(mapping, "MAPPING_VERSION", 1)
        directory_sync_run(connection=connection, full=True)
    assert DirectoryUser.objects.get(external_id=eve).display_name == FORGED
    # The entry did not change, but the mapping did: its digest differs, so it is mapped (and cleaned) again.
    run = directory_sync_run(connection=connection, full=True)
    assert run.updated == 4
    assert DirectoryUser.objects.get(external_id=eve).display_name == "Eve Example Bcc: all@evil.example"


def test_a_csv_row_whose_name_has_a_line_break_is_stored_without_it():
    connection = DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)
    run = directory_csv_import(connection=connection, data=(
        b'name,primary,aliases,forwarding,enabled\n"Eve Example\r\nBcc: all@evil.example",eve@example.test,,,yes\n'
    ))
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 1)
    assert DirectoryUser.objects.get().display_name == "Eve Example Bcc: all@evil.example"
