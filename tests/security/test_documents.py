"""Agreement documents are private: PDF only, random names, no media route, and a download view that
answers 404 to everyone but admins, the partner's account manager and the partner's partner admins."""

import importlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from partners.errors import DOCUMENT_NOT_PDF
from partners.models import Agreement
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.partners.documents import HTML, PDF, SVG, with_document
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def agreement():
    return with_document(AgreementFactory(version="2026.1", partner=PartnerFactory(slug="northwind")))


def download(client, agreement: Agreement):
    return client.get(reverse("partners:agreement_document", args=[agreement.pk]))


def assert_pdf_attachment(response, agreement: Agreement) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="agreement-{agreement.version}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


def test_an_anonymous_visitor_gets_404(client, agreement):
    assert download(client, agreement).status_code == 404


def test_a_partner_admin_of_another_partner_gets_404(client, agreement):
    client.force_login(PartnerAdminFactory(partner=PartnerFactory()))
    assert download(client, agreement).status_code == 404


def test_the_partners_own_staff_get_404(client, agreement):
    client.force_login(UserFactory(partner=agreement.partner))
    assert download(client, agreement).status_code == 404


def test_an_account_manager_of_other_partners_gets_404(client, agreement):
    client.force_login(AccountManagerFactory())
    assert download(client, agreement).status_code == 404


def test_the_partners_admin_gets_the_pdf_as_an_attachment(client, agreement):
    client.force_login(PartnerAdminFactory(partner=agreement.partner))
    assert_pdf_attachment(download(client, agreement), agreement)


def test_the_partners_account_manager_gets_the_pdf_as_an_attachment(client, agreement):
    client.force_login(agreement.partner.account_manager)
    assert_pdf_attachment(download(client, agreement), agreement)


def test_an_admin_gets_the_pdf_as_an_attachment(client, agreement):
    client.force_login(AdminFactory())
    assert_pdf_attachment(download(client, agreement), agreement)


def test_the_document_is_stored_privately_under_a_random_name(settings, agreement):
    stored = Path(agreement.document.path)
    assert stored.is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT).resolve())
    assert "Signed" not in stored.name and stored.suffix == ".pdf"
    assert not any(Path(settings.MEDIA_ROOT).rglob("*"))


def admin_add(client, content: bytes, name: str):
    partner = PartnerFactory()
    login_with_second_factor(client, AdminFactory())
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    return client.post(reverse("admin:partners_agreement_add"), {
        "partner": partner.pk, "version": "2026.2", "signed_at_0": "2026-01-15", "signed_at_1": "10:00:00",
        "signed_by_name": "Nora North", "signed_by_email": "", "valid_until": "", "document": upload,
    })


@pytest.mark.parametrize(("content", "name"), [(HTML, "agreement.html"), (HTML, "agreement.pdf"),
                                               (SVG, "agreement.svg"), (SVG, "agreement.pdf")])
def test_an_html_or_svg_upload_is_refused_whatever_its_name(client, settings, content, name):
    response = admin_add(client, content, name)

    assert response.status_code == 200  # the form again, with the error
    assert str(DOCUMENT_NOT_PDF) in response.content.decode()
    assert not Agreement.objects.exists()
    assert not any(Path(settings.PRIVATE_MEDIA_ROOT).rglob("*.*"))


def test_a_pdf_upload_is_stored_privately_under_a_random_name(client, settings):
    response = admin_add(client, PDF, "<script>Northwind.pdf")

    assert response.status_code == 302
    agreement = Agreement.objects.get()
    assert agreement.document.name.startswith("agreements/2026/") and "script" not in agreement.document.name
    assert Path(agreement.document.path).read_bytes() == PDF


@pytest.fixture
def urls_under_debug():
    """portal.urls as the embedded default (DEBUG on) builds it; rebuilt as the suite's afterwards."""
    import portal.urls

    with override_settings(DEBUG=True):
        importlib.reload(portal.urls)
        clear_url_caches()
        yield
    importlib.reload(portal.urls)
    clear_url_caches()


def test_no_media_route_serves_uploads_even_under_debug(client, settings, urls_under_debug, agreement):
    legacy = Path(settings.MEDIA_ROOT) / "agreements" / "2025" / "northwind-2025.1.pdf"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(PDF)

    assert client.get("/media/agreements/2025/northwind-2025.1.pdf").status_code == 404
    assert client.get(f"/media/{agreement.document.name}").status_code == 404


def test_the_partner_page_offers_the_download_to_those_who_may_have_it(client, agreement):
    page = reverse("onboarding:partner_detail", args=[agreement.partner.slug])
    link = reverse("partners:agreement_document", args=[agreement.pk])
    client.force_login(PartnerAdminFactory(partner=agreement.partner))
    assert link in client.get(page).content.decode()
    client.force_login(UserFactory(partner=agreement.partner))  # partner staff: the view would answer 404
    assert link not in client.get(page).content.decode()
