"""Uploads are bounded: the request-list CSV (onboarding) and the directory CSV (the admin's upload).

Through the real pages with an uploaded file: a file over the byte limit is refused before it is read,
with a clear message; a file is read row by row and refused at the first row over the row limit (the
rest is never read); a cell over the csv module's limit and bytes that are not UTF-8 become the usual
row errors. Never a server error, and nothing is written.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat

from core.errors import CSV_NOT_UTF8
from core.errors import CSV_NOT_UTF8 as LIST_NOT_UTF8
from core.models import AuditEvent
from directory_sync.errors import CSV_TOO_MANY_ROWS
from directory_sync.models import DirectoryConnection, DirectoryUser, SourceKind, SyncRun
from onboarding.errors import LIST_FILE_TOO_LARGE, LIST_TOO_MANY_ROWS, NAME_CONTROL_CHARACTERS
from onboarding.models import PortalUserRequest, RequestItem
from onboarding.services.requests import MAX_ROWS
from tests.accounts.factories import AdminFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

LIST_HEADER = b"name,email\n"
DIRECTORY_HEADER = b"name,primary,aliases,forwarding,enabled\n"
NOT_UTF8 = "Zoë".encode("latin-1")
BIG_CELL = b'"' + b"A" * 200_000 + b'"'  # one cell of 200 KB: over the csv module's field limit (128 KiB)


# --- the request list (onboarding) -------------------------------------------------------------------------------


@pytest.fixture
def partner():
    partner = PartnerFactory(slug="acme", name="Acme MSP")
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def submitter(client, partner):
    client.force_login(PartnerAdminFactory(partner=partner))
    return client


def upload_list(client, content: bytes):
    """The list page's CSV upload; the page as text (it must answer, never a server error)."""
    response = client.post("/partners/acme/requests/new/",
                           {"csv-file": SimpleUploadedFile("people.csv", content, content_type="text/csv")})
    assert response.status_code == 200
    return response.content.decode()


def assert_nothing_written() -> None:
    assert not PortalUserRequest.objects.exists()
    assert not RequestItem.objects.exists()
    assert not AuditEvent.objects.filter(action="request.item_submitted").exists()


def test_a_list_over_the_byte_limit_is_refused_with_its_size_and_the_limit(submitter):
    content = LIST_HEADER + b"Ada,ada@acme.example\n" * 50_000  # 1.1 MB of good rows (the default limit: 1 MB)
    page = upload_list(submitter, content)
    limit = 1024 * 1024
    assert LIST_FILE_TOO_LARGE.format(size=filesizeformat(len(content)), limit=filesizeformat(limit)) in page
    assert_nothing_written()


def test_the_list_byte_limit_is_a_setting(submitter, settings):
    settings.REQUEST_LIST_MAX_BYTES = 100
    page = upload_list(submitter, LIST_HEADER + b"Ada Lovelace,ada@acme.example\n" * 4)
    assert "a list file may be at most 100" in page
    assert_nothing_written()


def test_a_list_with_a_200_kb_cell_is_refused_at_that_row(submitter):
    page = upload_list(submitter, LIST_HEADER + b"Ada,ada@acme.example\n" + BIG_CELL + b",bob@acme.example\n")
    assert "row 3: this row cannot be read as CSV (field larger than field limit" in page
    assert_nothing_written()


def test_a_list_over_the_row_limit_is_refused_at_the_first_row_over_it_and_the_rest_is_not_read(submitter):
    rows = b"".join(b"P%d,p%d@acme.example\n" % (n, n) for n in range(MAX_ROWS + 1))
    page = upload_list(submitter, LIST_HEADER + rows + NOT_UTF8 + b",tail@acme.example\n")
    assert f"row {MAX_ROWS + 2}: {LIST_TOO_MANY_ROWS.format(limit=MAX_ROWS)}" in page
    assert str(LIST_NOT_UTF8) not in page  # the bytes after the limit were never decoded
    assert_nothing_written()


def test_a_list_that_is_not_utf8_is_refused_naming_the_first_row_that_is_not(submitter):
    page = upload_list(submitter, LIST_HEADER + b"Ada,ada@acme.example\n" + NOT_UTF8 + b",zoe@acme.example\n")
    assert f"row 3: {LIST_NOT_UTF8}" in page
    assert_nothing_written()


def test_a_list_with_a_nul_in_a_name_is_refused_at_that_row(submitter):
    page = upload_list(submitter, LIST_HEADER + b"Ada,ada@acme.example\nB\x00b,bob@acme.example\n")
    assert f"row 3: {NAME_CONTROL_CHARACTERS}" in page  # the csv module reads NULs since Python 3.11
    assert_nothing_written()


# --- the directory (the admin's CSV upload) ---------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    login_with_second_factor(client, AdminFactory())
    return client


@pytest.fixture
def connection():
    return DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)


def upload_directory(admin_client, connection, content: bytes) -> str:
    response = admin_client.post(
        f"/admin/directory_sync/directoryconnection/{connection.pk}/upload-csv/",
        {"file": SimpleUploadedFile("people.csv", content, content_type="text/csv")},
    )
    assert response.status_code == 200  # the form again, with the reason; a success would redirect
    return response.content.decode()


def people(count: int) -> bytes:
    return b"".join(b"Person %d,person%d@example.test,,,yes\n" % (n, n) for n in range(count))


def assert_no_directory_written() -> None:
    assert not DirectoryUser.objects.exists()
    assert not SyncRun.objects.exists()


def test_a_directory_file_over_the_byte_limit_is_refused_before_it_is_read(admin_client, connection, settings):
    settings.DIRECTORY_CSV_MAX_BYTES = 1000
    content = DIRECTORY_HEADER + people(40)
    page = upload_directory(admin_client, connection, content)
    assert f"it is {filesizeformat(len(content))}, and a directory file may be at most 1000" in page
    assert_no_directory_written()


def test_a_directory_file_with_a_200_kb_cell_is_refused_at_that_row(admin_client, connection):
    content = DIRECTORY_HEADER + people(1) + BIG_CELL + b",big@example.test,,,yes\n"
    page = upload_directory(admin_client, connection, content)
    assert "row 3: this row cannot be read as CSV (field larger than field limit" in page
    assert_no_directory_written()


def test_a_directory_file_over_the_row_limit_is_refused_at_the_first_row_over_it(admin_client, connection, settings):
    settings.DIRECTORY_CSV_MAX_ROWS = 3
    content = DIRECTORY_HEADER + people(5) + NOT_UTF8 + b",tail@example.test,,,yes\n"
    page = upload_directory(admin_client, connection, content)
    assert f"row 5: {CSV_TOO_MANY_ROWS.format(limit=3)}" in page
    assert str(CSV_NOT_UTF8) not in page
    assert_no_directory_written()


def test_a_directory_file_that_is_not_utf8_is_refused_naming_the_row(admin_client, connection):
    content = DIRECTORY_HEADER + people(1) + NOT_UTF8 + b",zoe@example.test,,,yes\n"
    page = upload_directory(admin_client, connection, content)
    assert f"row 3: {CSV_NOT_UTF8}" in page
    assert_no_directory_written()
