"""The admin's side of agreements that renew: publishing a version (through the service, a PDF only, read-only
once published), choosing a partner's authorised signers among its partner admins, recording a signature."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from partners.errors import DOCUMENT_NOT_PDF
from partners.models import Agreement, AgreementVersion, PartnerKind, SignedVia
from tests.accounts.factories import AdminFactory, PartnerAdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.partners.documents import HTML, PDF
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.test_agreement_services import accept, publish, signer_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def admin(client):
    user = AdminFactory()
    login_with_second_factor(client, user)
    return user


def publish_in_admin(client, content: bytes = PDF, label: str = "2027.1"):
    return client.post(reverse("admin:partners_agreementversion_add"), {
        "partner_kind": PartnerKind.MSP, "label": label, "valid_for_days": "365",
        "document": SimpleUploadedFile("Agreement.pdf", content, content_type="application/pdf")})


def test_publishing_in_the_admin_goes_through_the_service(client, admin):
    response = publish_in_admin(client)

    assert response.status_code == 302
    version = AgreementVersion.objects.get()
    assert (version.label, version.valid_for_days, version.published_by) == ("2027.1", 365, admin)
    assert version.document_sha256 == hashlib.sha256(PDF).hexdigest()
    assert AuditEvent.objects.filter(action="agreement_version.published", actor=admin).exists()


def test_a_version_that_is_not_a_pdf_is_not_published(client, admin):
    response = publish_in_admin(client, content=HTML)

    assert response.status_code == 200 and str(DOCUMENT_NOT_PDF) in response.content.decode()
    assert not AgreementVersion.objects.exists()


def test_a_published_version_cannot_be_changed_or_deleted(client, admin):
    version = publish()
    url = reverse("admin:partners_agreementversion_change", args=[version.pk])

    page = client.get(url).content.decode()
    client.post(url, {"partner_kind": PartnerKind.RESELLER, "label": "changed", "valid_for_days": "1"})

    assert version.document_sha256 in page
    assert reverse("partners:agreement_version_document", args=[version.pk]) in page
    version.refresh_from_db()
    assert (version.partner_kind, version.label, version.valid_for_days) == (PartnerKind.MSP, "2027.1", 365)
    assert client.get(reverse("admin:partners_agreementversion_delete", args=[version.pk])).status_code == 403


def partner_post(partner, signers) -> dict:
    data = {"name": partner.name, "slug": partner.slug, "kind": partner.kind, "language": partner.language,
            "account_manager": partner.account_manager_id or "", "is_active": "on",
            "signers": [person.pk for person in signers]}
    for prefix, initial, maximum in (("domains", 0, 1000), ("agreements", partner.agreements.count(), 1000),
                                     ("account_settings", 1, 1)):
        data |= {f"{prefix}-TOTAL_FORMS": str(initial), f"{prefix}-INITIAL_FORMS": str(initial),
                 f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": str(maximum)}
    data |= {"account_settings-0-partner": partner.pk, "account_settings-0-auth_method": "cloud_password",
             "account_settings-0-two_factor_policy": "optional", "account_settings-0-two_factor_grace_days": "7",
             "account_settings-0-sso_scopes": "openid email profile"}
    for n, agreement in enumerate(partner.agreements.order_by("-signed_at")):
        data |= {f"agreements-{n}-id": agreement.pk, f"agreements-{n}-partner": partner.pk,
                 f"agreements-{n}-version": agreement.version,
                 f"agreements-{n}-signed_at_0": agreement.signed_at.strftime("%Y-%m-%d"),
                 f"agreements-{n}-signed_at_1": agreement.signed_at.strftime("%H:%M:%S"),
                 f"agreements-{n}-signed_by_name": agreement.signed_by_name}
    return data


def test_the_partner_page_offers_only_its_active_partner_admins_as_signers(client, admin):
    partner = PartnerFactory()
    offered = PartnerAdminFactory(partner=partner, display_email="offered@p.example")
    for person in (UserFactory(partner=partner, display_email="staff@p.example"),
                   PartnerAdminFactory(partner=partner, is_active=False, display_email="inactive@p.example"),
                   PartnerAdminFactory(display_email="elsewhere@q.example")):
        page = client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()
        assert person.display_email not in page
    assert offered.display_email in page and "Authorised signers" in page


def test_choosing_signers_in_the_admin_goes_through_the_service(client, admin):
    partner = PartnerFactory()
    AgreementFactory(partner=partner)
    kept, dropped = signer_of(partner), signer_of(partner)
    added = PartnerAdminFactory(partner=partner)

    response = client.post(reverse("admin:partners_partner_change", args=[partner.pk]),
                           partner_post(partner, [kept, added]))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(partner.authorised_signers.all()) == {kept, added}
    actions = AuditEvent.objects.filter(actor=admin, action__startswith="agreement_signer.")
    assert sorted(actions.values_list("action", "data__user_id")) == [
        ("agreement_signer.added", added.pk), ("agreement_signer.removed", dropped.pk)]


def test_a_signature_added_in_the_admin_is_recorded_by_the_admin(client, admin):
    partner = PartnerFactory(kind=PartnerKind.MSP)
    version = publish()

    response = client.post(reverse("admin:partners_agreement_add"), {
        "partner": partner.pk, "agreement_version": version.pk, "version": "", "signed_at_0": "2026-11-20",
        "signed_at_1": "10:00:00", "signed_by_name": "Nora North", "signed_by_title": "CEO", "signed_by_email": "",
        "valid_until": "2027-11-20"})

    assert response.status_code == 302, response.content.decode()[:3000]
    agreement = Agreement.objects.get(partner=partner)
    assert (agreement.version, agreement.signed_via, agreement.recorded_by) == ("2027.1", SignedVia.RECORDED, admin)
    assert agreement.document_sha256 == version.document_sha256 and agreement.signed_by_title == "CEO"
    assert AuditEvent.objects.filter(action="agreement.recorded", actor=admin).exists()


def test_a_version_of_another_kind_cannot_be_recorded_for_a_partner(client, admin):
    partner = PartnerFactory(kind=PartnerKind.RESELLER)
    version = publish(kind=PartnerKind.MSP)

    response = client.post(reverse("admin:partners_agreement_add"), {
        "partner": partner.pk, "agreement_version": version.pk, "version": "", "signed_at_0": "2026-11-20",
        "signed_at_1": "10:00:00", "signed_by_name": "Nora North", "signed_by_email": "", "valid_until": ""})

    assert response.status_code == 200
    assert "published for another kind of partner" in response.content.decode()
    assert not Agreement.objects.exists()


def test_a_label_published_already_is_refused_on_the_form(client, admin):
    publish_in_admin(client)

    response = publish_in_admin(client)

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert AgreementVersion.objects.count() == 1


def test_an_acceptance_in_the_portal_is_not_edited_in_the_admin(client, admin):
    partner = PartnerFactory(kind=PartnerKind.MSP)
    agreement = accept(partner, signer_of(partner), publish(kind=PartnerKind.MSP))
    page = client.get(reverse("admin:partners_agreement_change", args=[agreement.pk])).content.decode()
    assert 'name="version"' not in page and 'name="signed_by_name"' not in page
    response = client.post(reverse("admin:partners_agreement_change", args=[agreement.pk]),
                           {"version": "forged", "signed_by_name": "Someone Else"})
    assert response.status_code == 403
    agreement.refresh_from_db()
    assert agreement.signed_via == SignedVia.PORTAL and agreement.signed_by_name == "Pat Adams"
