"""Agreement documents: the PDF check, private storage and its names, who may download, the admin's
form, the storage location check, and the migration that moved the existing files."""

import importlib
import io
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Role
from partners import checks, selectors
from partners.admin import AgreementForm
from partners.documents import document_is_pdf, document_require_pdf
from partners.errors import DOCUMENT_MISSING, DOCUMENT_NOT_PDF, DOCUMENT_NOT_PDF_KEPT
from partners.models import Agreement, DocumentProblem
from partners.storage import NOT_SERVED, PrivateStorage, agreement_document_name
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.partners.documents import HTML, PDF, SVG, with_document
from tests.partners.factories import AgreementFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("partners.migrations.0002_agreement_documents_private")


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


# --- the check --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "is_pdf"), [(PDF, True), (HTML, False), (SVG, False), (b"", False),
                                                 (b" %PDF-1.7", False), (b"%PDF", False)])
def test_a_pdf_is_known_by_its_first_bytes(content, is_pdf):
    file = io.BytesIO(content)
    file.seek(3)

    assert document_is_pdf(file=file) is is_pdf
    assert file.tell() == 0  # read from the start, and left there for whoever stores it


def test_anything_else_is_refused_with_the_message():
    with pytest.raises(Exception, match="must be a PDF") as refused:
        document_require_pdf(file=SimpleUploadedFile("agreement.pdf", HTML, content_type="application/pdf"))
    assert refused.value.messages == [DOCUMENT_NOT_PDF]


# --- storage and names -------------------------------------------------------------------------------


def test_uploads_get_a_random_pdf_name_in_the_year_they_were_signed():
    agreement = AgreementFactory.build(signed_at=AgreementFactory.build().signed_at.replace(year=2024))

    first = agreement_document_name(agreement, "../../Northwind <script>.html")
    second = agreement_document_name(agreement, "../../Northwind <script>.html")

    assert first.startswith("agreements/2024/") and first.endswith(".pdf")
    assert first != second
    assert "Northwind" not in first and ".." not in first


def test_private_storage_follows_the_setting_and_keeps_files_to_their_owner(settings, tmp_path):
    storage = PrivateStorage()
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "elsewhere")

    name = storage.save("agreements/2026/x.pdf", io.BytesIO(PDF))

    stored = tmp_path / "elsewhere" / name
    assert stored.read_bytes() == PDF
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(stored.parent).st_mode) == 0o700


def test_private_storage_has_no_url():
    with pytest.raises(NotImplementedError, match=NOT_SERVED):
        PrivateStorage().url("agreements/2026/x.pdf")


@pytest.mark.parametrize(("version", "filename"), [("2026.1", "agreement-2026.1.pdf"),
                                                   ('v2 "final"/../x', "agreement-v2-final-..-x.pdf"),
                                                   ("...", "agreement-document.pdf")])
def test_the_download_name_keeps_only_safe_characters_of_the_version(version, filename):
    assert Agreement(version=version).document_filename == filename


def test_the_database_refuses_a_problem_without_a_document():
    agreement = AgreementFactory()

    with pytest.raises(IntegrityError, match="agreement_document_problem_needs_document"), transaction.atomic():
        Agreement.objects.filter(pk=agreement.pk).update(document_problem=DocumentProblem.MISSING)


# --- who may download --------------------------------------------------------------------------------


def test_the_role_values_partners_checks_are_those_of_accounts():
    # partners may not import accounts (the layers); the strings it compares must not drift from the enum.
    assert selectors.ROLE_ADMIN == Role.ADMIN


def test_who_may_download_an_agreements_document():
    agreement = with_document(AgreementFactory())
    partner = agreement.partner
    allowed = [AdminFactory(), partner.account_manager, PartnerAdminFactory(partner=partner)]
    refused = [UserFactory(partner=partner), PartnerAdminFactory(), AccountManagerFactory(),
               AdminFactory(is_active=False)]

    def may(user) -> bool:
        return selectors.agreement_document_for(user=user, agreement_id=agreement.pk) == agreement

    assert [may(user) for user in allowed] == [True, True, True]
    assert [may(user) for user in refused] == [False, False, False, False]


@pytest.mark.parametrize("problem", [DocumentProblem.NOT_PDF, DocumentProblem.MISSING])
def test_a_flagged_document_is_served_to_no_one(problem):
    agreement = with_document(AgreementFactory())
    Agreement.objects.filter(pk=agreement.pk).update(document_problem=problem)

    assert selectors.agreement_document_for(user=AdminFactory(), agreement_id=agreement.pk) is None


def test_an_agreement_without_a_document_is_404(client):
    agreement = AgreementFactory()
    client.force_login(AdminFactory())

    assert client.get(reverse("partners:agreement_document", args=[agreement.pk])).status_code == 404


# --- the admin -----------------------------------------------------------------------------------------


def agreement_form(agreement: Agreement, upload=None) -> AgreementForm:
    data = {"partner": agreement.partner_id, "version": agreement.version, "signed_at": agreement.signed_at,
            "signed_by_name": agreement.signed_by_name, "signed_by_email": "", "valid_until": ""}
    return AgreementForm(data=data, files={"document": upload} if upload else {}, instance=agreement)


def test_a_new_pdf_replaces_a_flagged_document_and_its_flag():
    agreement = with_document(AgreementFactory(), content=HTML)
    Agreement.objects.filter(pk=agreement.pk).update(document_problem=DocumentProblem.NOT_PDF)
    agreement.refresh_from_db()

    form = agreement_form(agreement, SimpleUploadedFile("signed.pdf", PDF))
    assert form.is_valid(), form.errors
    form.save()

    agreement.refresh_from_db()
    assert agreement.document_problem == ""
    assert agreement.document.read() == PDF


def test_an_svg_never_replaces_a_stored_document():
    agreement = with_document(AgreementFactory())
    stored = agreement.document.name

    form = agreement_form(agreement, SimpleUploadedFile("signed.pdf", SVG, content_type="application/pdf"))

    assert not form.is_valid()
    assert form.errors["document"] == [DOCUMENT_NOT_PDF]
    agreement.refresh_from_db()
    assert agreement.document.name == stored


def test_editing_other_fields_keeps_the_document():
    agreement = with_document(AgreementFactory())
    form = agreement_form(agreement)
    form.data["signed_by_name"] = "Someone Else"

    assert form.is_valid(), form.errors
    form.save()
    agreement.refresh_from_db()
    assert agreement.has_document and agreement.signed_by_name == "Someone Else"


def test_the_admin_links_the_document_to_the_download_view_only(client):
    agreement = with_document(AgreementFactory())
    login_with_second_factor(client, AdminFactory())

    page = client.get(reverse("admin:partners_agreement_change", args=[agreement.pk])).content.decode()

    assert f'href="{reverse("partners:agreement_document", args=[agreement.pk])}"' in page
    assert agreement.document_filename in page
    assert agreement.document.name not in page and "/media/" not in page


@pytest.mark.parametrize(("problem", "message"), [(DocumentProblem.NOT_PDF, DOCUMENT_NOT_PDF_KEPT),
                                                   (DocumentProblem.MISSING, DOCUMENT_MISSING)])
def test_the_admin_shows_why_a_flagged_document_is_not_served(client, problem, message):
    agreement = with_document(AgreementFactory(), content=HTML)
    Agreement.objects.filter(pk=agreement.pk).update(document_problem=problem)
    login_with_second_factor(client, AdminFactory())

    agreement_page = client.get(reverse("admin:partners_agreement_change", args=[agreement.pk])).content.decode()
    partner_page = client.get(reverse("admin:partners_partner_change", args=[agreement.partner_id])).content.decode()

    for page in (agreement_page, partner_page):
        assert escape(str(message)) in page
        assert reverse("partners:agreement_document", args=[agreement.pk]) not in page


# --- where documents are kept --------------------------------------------------------------------------


def test_the_default_locations_pass_the_storage_check(settings):
    assert checks.private_media_root_check() == []


@pytest.mark.parametrize("inside", ["STATIC_ROOT", "MEDIA_ROOT"])
def test_private_storage_inside_a_published_folder_is_an_error(settings, tmp_path, inside):
    setattr(settings, inside, str(tmp_path / "public"))
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "public" / "private")

    errors = checks.private_media_root_check()

    assert [error.id for error in errors] == ["partners.E001"]
    assert inside in errors[0].msg


def test_a_published_folder_inside_private_storage_is_an_error(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    settings.STATIC_ROOT = str(tmp_path / "private" / "static")

    errors = checks.private_media_root_check()

    assert [error.id for error in errors] == ["partners.E001"]
    assert "STATIC_ROOT" in errors[0].msg


# --- the migration of existing documents ---------------------------------------------------------------


def legacy_agreement(settings, name: str, content: bytes | None) -> Agreement:
    """An agreement as the previous code stored it: its file in MEDIA_ROOT under the uploaded name."""
    if content is not None:
        path = Path(settings.MEDIA_ROOT) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    agreement = AgreementFactory()
    Agreement.objects.filter(pk=agreement.pk).update(document=name)
    return agreement


def run_migration(function, django_capture_on_commit_callbacks) -> None:
    editor = SimpleNamespace(connection=connection)
    with django_capture_on_commit_callbacks(execute=True):
        function(apps, editor)


def test_the_migration_moves_a_pdf_to_private_storage_under_a_random_name(settings, django_capture_on_commit_callbacks):
    agreement = legacy_agreement(settings, "agreements/2025/Northwind signed.pdf", PDF)

    run_migration(MIGRATION.documents_to_private_storage, django_capture_on_commit_callbacks)

    agreement.refresh_from_db()
    assert agreement.has_document
    assert "Northwind" not in agreement.document.name and agreement.document.name.endswith(".pdf")
    assert Path(agreement.document.path).read_bytes() == PDF
    assert not (Path(settings.MEDIA_ROOT) / "agreements/2025/Northwind signed.pdf").exists()


def test_the_migration_keeps_but_flags_a_document_that_is_not_a_pdf(settings, django_capture_on_commit_callbacks,
                                                                     caplog):
    agreement = legacy_agreement(settings, "agreements/2025/agreement.html", HTML)

    run_migration(MIGRATION.documents_to_private_storage, django_capture_on_commit_callbacks)

    agreement.refresh_from_db()
    assert agreement.document_problem == DocumentProblem.NOT_PDF
    assert Path(agreement.document.path).read_bytes() == HTML  # kept, in private storage
    assert not agreement.document.name.endswith((".pdf", ".html"))
    assert not (Path(settings.MEDIA_ROOT) / "agreements/2025/agreement.html").exists()
    assert f"Agreement {agreement.pk}" in caplog.text and "not a PDF" in caplog.text


def test_the_migration_flags_a_document_whose_file_is_gone(settings, django_capture_on_commit_callbacks, caplog):
    agreement = legacy_agreement(settings, "agreements/2025/northwind-2025.1.pdf", None)

    run_migration(MIGRATION.documents_to_private_storage, django_capture_on_commit_callbacks)

    agreement.refresh_from_db()
    assert agreement.document.name == "agreements/2025/northwind-2025.1.pdf"
    assert agreement.document_problem == DocumentProblem.MISSING
    assert "flagged as missing" in caplog.text


def test_migrating_back_returns_the_files_to_media_root(settings, django_capture_on_commit_callbacks):
    pdf = legacy_agreement(settings, "agreements/2025/a.pdf", PDF)
    html = legacy_agreement(settings, "agreements/2025/b.html", HTML)
    run_migration(MIGRATION.documents_to_private_storage, django_capture_on_commit_callbacks)

    run_migration(MIGRATION.documents_to_public_storage, django_capture_on_commit_callbacks)

    for agreement, content in ((pdf, PDF), (html, HTML)):
        agreement.refresh_from_db()
        assert agreement.document_problem == ""
        assert (Path(settings.MEDIA_ROOT) / agreement.document.name).read_bytes() == content
    assert not any(path.is_file() for path in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*"))
