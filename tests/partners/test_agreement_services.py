"""Agreement versions and signatures: publishing a version, authorised signers, accepting in the portal (and every
refusal), recording a signature made elsewhere."""

import datetime
import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from core.models import AuditEvent, OutboundMail
from partners import errors
from partners.errors import AgreementRefused
from partners.models import Agreement, AgreementVersion, PartnerKind, SignedVia
from partners.selectors import (
    ROLE_ACCOUNT_MANAGER,
    ROLE_PARTNER_ADMIN,
    ROLE_PARTNER_STAFF,
    agreement_is_signer,
    agreement_version_offered,
    current_agreement,
)
from partners.services import agreement_accept, agreement_record, agreement_signer_set, agreement_version_publish
from tests.accounts.factories import AdminFactory, PartnerAdminFactory, UserFactory
from tests.partners.documents import HTML, PDF
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

PDF_2027 = PDF.replace(b"Catalog", b"Catalog /Version 2027")


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def publish(label: str = "2027.1", *, kind: str = PartnerKind.MSP, content: bytes = PDF_2027,
            valid_for_days: int | None = 365, actor=None) -> AgreementVersion:
    """A version published by an admin, as the admin's add page does."""
    return agreement_version_publish(partner_kind=kind, label=label, valid_for_days=valid_for_days,
                                     document=SimpleUploadedFile("Agreement 2027.pdf", content), actor=actor)


def signer_of(partner, **fields):
    """A partner admin of `partner`, marked as an authorised signer."""
    person = PartnerAdminFactory(partner=partner, **fields)
    agreement_signer_set(partner=partner, user=person, authorised=True, actor=None)
    return person


def accept(partner, person, version, **overrides):
    fields = {"partner": partner, "version_id": version.pk, "document_sha256": version.document_sha256,
              "name": "Pat Adams", "title": "Managing Director", "confirmed": True, "actor": person}
    return agreement_accept(**{**fields, **overrides})


@pytest.fixture
def partner():
    partner = PartnerFactory(kind=PartnerKind.MSP, name="Acme MSP")
    AgreementFactory(partner=partner, version="2026.1", valid_until=timezone.localdate() + datetime.timedelta(days=20))
    return partner


def test_the_role_values_partners_compares_are_those_of_accounts():
    from accounts.models import Role

    assert (ROLE_PARTNER_ADMIN, ROLE_PARTNER_STAFF, ROLE_ACCOUNT_MANAGER) == (
        Role.PARTNER_ADMIN, Role.PARTNER_STAFF, Role.ACCOUNT_MANAGER)


# --- publishing ------------------------------------------------------------------------------------------------


def test_a_published_version_keeps_its_pdf_privately_with_its_sha256_and_is_audited():
    admin = AdminFactory()
    version = publish(actor=admin)

    assert version.document_sha256 == hashlib.sha256(PDF_2027).hexdigest()
    assert version.document.read() == PDF_2027
    assert version.document.name.startswith("agreements/versions/") and "2027" not in version.document.name
    assert version.published_by == admin
    event = AuditEvent.objects.get(action="agreement_version.published")
    assert event.data["sha256"] == version.document_sha256 and event.actor == admin


def test_a_version_that_is_not_a_pdf_is_refused():
    with pytest.raises(ValidationError):
        publish(content=HTML)
    assert not AgreementVersion.objects.exists()


def test_a_label_is_published_once_per_kind_of_partner():
    publish("2027.1", kind=PartnerKind.MSP)
    publish("2027.1", kind=PartnerKind.RESELLER)  # the resellers' text may share the label

    with pytest.raises(AgreementRefused, match="published for Managed service provider already"):
        publish("2027.1", kind=PartnerKind.MSP)


def test_the_latest_version_of_the_partners_kind_is_offered_until_it_is_accepted(partner):
    assert agreement_version_offered(partner=partner) is None
    publish("2027.0")
    newest = publish("2027.1")
    publish("2027.9", kind=PartnerKind.RESELLER)

    assert agreement_version_offered(partner=partner) == newest
    accept(partner, signer_of(partner), newest)
    assert agreement_version_offered(partner=partner) is None


# --- signers ---------------------------------------------------------------------------------------------------


def test_only_an_active_partner_admin_of_the_partner_can_be_made_a_signer(partner):
    refused = [UserFactory(partner=partner), PartnerAdminFactory(), PartnerAdminFactory(partner=partner,
                                                                                         is_active=False)]
    for person in refused:
        with pytest.raises(AgreementRefused, match="not an active partner admin"):
            agreement_signer_set(partner=partner, user=person, authorised=True, actor=None)
    assert not partner.authorised_signers.exists()


def test_marking_a_signer_twice_changes_and_audits_once(partner):
    person = PartnerAdminFactory(partner=partner)

    assert agreement_signer_set(partner=partner, user=person, authorised=True, actor=None) is True
    assert agreement_signer_set(partner=partner, user=person, authorised=True, actor=None) is False
    assert agreement_signer_set(partner=partner, user=person, authorised=False, actor=None) is True

    assert list(AuditEvent.objects.filter(partner_id=partner.pk).values_list("action", flat=True).order_by("pk")) == [
        "agreement_signer.added", "agreement_signer.removed"]


def test_a_signer_who_stops_being_a_partner_admin_can_no_longer_sign(partner):
    person = signer_of(partner)
    assert agreement_is_signer(user=person, partner=partner)

    person.role = ROLE_PARTNER_STAFF
    person.save()

    assert not agreement_is_signer(user=person, partner=partner)


# --- accepting in the portal -----------------------------------------------------------------------------------


def test_a_signer_accepts_the_offered_version_which_becomes_the_current_agreement(partner, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    version = publish(valid_for_days=365)
    person = signer_of(partner, full_name="Pat Adams", display_email="Pat@Acme.example")
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")

    agreement = accept(partner, person, version, request=request)

    assert current_agreement(partner=partner) == agreement
    assert (agreement.version, agreement.agreement_version, agreement.signed_via) == ("2027.1", version,
                                                                                       SignedVia.PORTAL)
    assert (agreement.signed_by_name, agreement.signed_by_title, agreement.signed_by_user) == (
        "Pat Adams", "Managing Director", person)
    assert agreement.signed_by_email == "Pat@Acme.example" and agreement.signed_from_ip == "203.0.113.7"
    assert agreement.document_sha256 == version.document_sha256 and agreement.document.read() == PDF_2027
    assert agreement.valid_until == timezone.localdate() + datetime.timedelta(days=365)
    event = AuditEvent.objects.get(action="agreement.accepted")
    assert (event.actor, event.ip_address, event.data["sha256"]) == (person, "203.0.113.7", version.document_sha256)


def test_the_account_manager_is_told_of_the_acceptance(partner, django_capture_on_commit_callbacks):
    version = publish()
    with django_capture_on_commit_callbacks(execute=True):
        accept(partner, signer_of(partner), version)

    notice = OutboundMail.objects.get(template="agreement_accepted")
    assert notice.to == partner.account_manager.display_email
    assert "Managing Director" in notice.body and version.document_sha256 in notice.body


def test_a_version_without_a_term_is_valid_until_superseded(partner):
    version = publish(valid_for_days=None)
    assert accept(partner, signer_of(partner), version).valid_until is None


def test_someone_who_is_not_an_authorised_signer_cannot_accept(partner):
    version = publish()
    for person in (PartnerAdminFactory(partner=partner), UserFactory(partner=partner), partner.account_manager,
                   AdminFactory(), signer_of(PartnerFactory())):
        with pytest.raises(AgreementRefused) as refused:
            accept(partner, person, version)
        assert str(refused.value) == errors.NOT_A_SIGNER.format(partner=partner)
    assert not Agreement.objects.filter(agreement_version=version).exists()


def test_a_version_of_another_kind_is_unknown_to_the_partner(partner):
    other = publish(kind=PartnerKind.RESELLER)

    with pytest.raises(AgreementRefused) as refused:
        accept(partner, signer_of(partner), other)
    assert str(refused.value) == errors.VERSION_UNKNOWN.format(partner=partner)


def test_a_page_opened_before_a_newer_version_was_published_accepts_nothing(partner):
    read = publish("2027.1")
    publish("2027.2")

    with pytest.raises(AgreementRefused) as refused:
        accept(partner, signer_of(partner), read)
    assert str(refused.value) == errors.VERSION_STALE.format(label="2027.2")


def test_a_form_showing_another_documents_hash_accepts_nothing(partner):
    version = publish()

    with pytest.raises(AgreementRefused) as refused:
        accept(partner, signer_of(partner), version, document_sha256="0" * 64)
    assert str(refused.value) == errors.VERSION_DOCUMENT_CHANGED


def test_a_version_is_accepted_once(partner):
    version = publish()
    first, second = signer_of(partner), signer_of(partner)
    accept(partner, first, version)

    with pytest.raises(AgreementRefused, match=r"has accepted agreement v2027\.1 already"):
        accept(partner, second, version)
    assert partner.agreements.filter(agreement_version=version).count() == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"name": "  "}, errors.SIGNER_FIELD_REQUIRED.format(field="full name")),
    ({"title": ""}, errors.SIGNER_FIELD_REQUIRED.format(field="title")),
    ({"name": "Pat\nAdams"}, errors.SIGNER_FIELD_ONE_LINE.format(field="full name")),
    ({"confirmed": False}, errors.ACCEPTANCE_NOT_CONFIRMED),
])
def test_an_incomplete_acceptance_is_refused_with_its_reason(partner, overrides, message):
    version = publish()
    with pytest.raises(AgreementRefused) as refused:
        accept(partner, signer_of(partner), version, **overrides)
    assert str(refused.value) == str(message)
    assert current_agreement(partner=partner).version == "2026.1"


# --- recorded by an admin --------------------------------------------------------------------------------------


def test_a_signature_made_elsewhere_is_recorded_with_its_documents_hash(partner):
    admin = AdminFactory()
    agreement = Agreement(partner=partner, version="2026.2", signed_at=timezone.now(), signed_by_name="Pat Adams",
                          document=SimpleUploadedFile("scan.pdf", PDF))

    agreement_record(agreement=agreement, actor=admin)

    agreement.refresh_from_db()
    assert (agreement.signed_via, agreement.recorded_by) == (SignedVia.RECORDED, admin)
    assert agreement.document_sha256 == hashlib.sha256(PDF).hexdigest()
    assert AuditEvent.objects.filter(action="agreement.recorded", actor=admin).exists()


def test_a_recorded_signature_of_a_published_version_takes_its_label_and_document(partner):
    version = publish()
    agreement = Agreement(partner=partner, agreement_version=version, signed_at=timezone.now(),
                          signed_by_name="Pat Adams")

    agreement_record(agreement=agreement, actor=AdminFactory())

    assert (agreement.version, agreement.document_sha256) == ("2027.1", version.document_sha256)
    assert agreement.has_document
    assert agreement_version_offered(partner=partner) is None


def test_the_demo_offers_its_msp_a_new_version_for_its_partner_admin_to_sign():
    import io

    from django.core.management import call_command

    from partners.models import Partner

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())

    msp = Partner.objects.get(slug="demo-msp")
    assert agreement_version_offered(partner=msp).label == "2027.1"
    assert [person.email for person in msp.authorised_signers.all()] == ["pat.admin@msp.example"]
    assert AgreementVersion.objects.count() == 1


# --- the database's own guards, by name --------------------------------------------------------------------------


def test_a_deleted_signers_acceptance_stays_on_record(partner):
    person = signer_of(partner, display_email="Pat@Acme.example")
    agreement = accept(partner, person, publish())

    person.delete()

    agreement.refresh_from_db()
    assert agreement.signed_by_user is None
    assert (agreement.signed_by_name, agreement.signed_by_email) == ("Pat Adams", "Pat@Acme.example")


@pytest.mark.parametrize(("change", "constraint"), [
    ({"signed_via": SignedVia.PORTAL}, "agreement_portal_acceptance_names_its_version"),
    ({"document_sha256": "not-a-hash"}, "agreement_sha256_hex"),
])
def test_the_database_refuses_an_incomplete_agreement(partner, change, constraint):
    from django.db import IntegrityError, transaction

    agreement = partner.agreements.get()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Agreement.objects.filter(pk=agreement.pk).update(**change)


def test_the_database_refuses_a_second_acceptance_of_a_version_and_a_bad_hash():
    from django.db import IntegrityError, transaction

    from partners.models import AgreementReminder

    version = publish()
    agreement = AgreementFactory(agreement_version=version)
    checks = [
        (lambda: AgreementFactory(partner=agreement.partner, agreement_version=version),
         "agreement_version_accepted_once_per_partner"),
        (lambda: AgreementVersion.objects.filter(pk=version.pk).update(document_sha256="X" * 64),
         "agreement_version_sha256_hex"),
        (lambda: AgreementVersion.objects.create(partner_kind=version.partner_kind, label=version.label,
                                                 document="x.pdf", document_sha256="a" * 64),
         "agreement_version_label_unique_per_kind"),
        (lambda: [AgreementReminder.objects.create(agreement=agreement, days_before=7) for _ in range(2)],
         "agreement_reminder_once"),
    ]
    for make, constraint in checks:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            make()
