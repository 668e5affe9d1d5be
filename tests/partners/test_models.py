"""Every database constraint of the partners models, tried and broken, plus the model helpers."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from partners.models import AccountDomain, AccountSettings, Agreement, AuthMethod, Partner, SsoProtocol
from tests.accounts.factories import AccountManagerFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)


def _refused(constraint: str):
    """Expect the database to refuse a write on `constraint`, leaving the test's transaction usable."""
    return pytest.raises(IntegrityError, match=constraint)


# --- Partner -------------------------------------------------------------------------------------------------------


def test_partner_slug_is_unique():
    PartnerFactory(slug="acme")

    with _refused("partner_slug_unique"), transaction.atomic():
        PartnerFactory(slug="acme")

    assert Partner.objects.filter(slug="acme").count() == 1


def test_partner_slug_must_be_lower_case():
    with _refused("partner_slug_lowercase"), transaction.atomic():
        PartnerFactory(slug="Acme")

    assert not Partner.objects.filter(slug__iexact="acme").exists()


# --- Account settings ----------------------------------------------------------------------------------------------


def test_sso_without_issuer_is_refused():
    settings = PartnerFactory().account_settings
    settings.auth_method = AuthMethod.SSO
    settings.sso_client_id = "portal"

    with _refused("account_sso_needs_provider"), transaction.atomic():
        settings.save()


def test_sso_without_client_id_is_refused():
    settings = PartnerFactory().account_settings
    settings.auth_method = AuthMethod.SSO
    settings.sso_issuer = "https://idp.partner.example/"

    with _refused("account_sso_needs_provider"), transaction.atomic():
        settings.save()


def test_saml_sso_without_metadata_is_refused():
    settings = PartnerFactory().account_settings
    settings.auth_method = AuthMethod.SSO
    settings.sso_protocol = SsoProtocol.SAML
    settings.sso_issuer = "https://idp.partner.example/"  # an OpenID Connect issuer is no SAML provider
    settings.sso_client_id = "portal"

    with _refused("account_sso_needs_provider"), transaction.atomic():
        settings.save()


def test_saml_sso_with_metadata_url_is_stored():
    settings = PartnerFactory().account_settings
    settings.auth_method = AuthMethod.SSO
    settings.sso_protocol = SsoProtocol.SAML
    settings.saml_idp_metadata_url = "https://idp.partner.example/metadata"

    settings.save()

    settings.refresh_from_db()
    assert settings.sso_protocol == SsoProtocol.SAML


def test_sso_with_issuer_and_client_is_stored():
    settings = PartnerFactory().account_settings
    settings.auth_method = AuthMethod.SSO
    settings.sso_issuer = "https://idp.partner.example/"
    settings.sso_client_id = "portal"
    settings.sso_enforced = True

    settings.save()

    assert AccountSettings.objects.get(pk=settings.pk).sso_enforced


@pytest.mark.parametrize("method", [AuthMethod.CLOUD_PASSWORD, AuthMethod.DOMAIN_PASSWORD])
def test_sso_enforced_without_sso_is_refused(method):
    settings = PartnerFactory().account_settings
    settings.auth_method = method
    settings.sso_issuer = "https://idp.partner.example/"
    settings.sso_client_id = "portal"
    settings.sso_enforced = True

    with _refused("account_sso_enforced_needs_sso"), transaction.atomic():
        settings.save()

    assert not AccountSettings.objects.get(pk=settings.pk).sso_enforced


# --- Account domains -----------------------------------------------------------------------------------------------


def test_account_domain_is_unique_across_partners():
    AccountDomain.objects.create(partner=PartnerFactory(), domain="partner.example")

    with _refused("account_domain_unique"), transaction.atomic():
        AccountDomain.objects.create(partner=PartnerFactory(), domain="partner.example")

    assert AccountDomain.objects.filter(domain="partner.example").count() == 1


def test_account_domain_must_be_lower_case():
    with _refused("account_domain_lowercase"), transaction.atomic():
        AccountDomain.objects.create(partner=PartnerFactory(), domain="Partner.Example")


# --- Agreements ----------------------------------------------------------------------------------------------------


def test_agreement_version_is_unique_per_partner():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, version="2026.1")

    with _refused("agreement_version_unique_per_partner"), transaction.atomic():
        AgreementFactory(partner=partner, version="2026.1")

    assert partner.agreements.count() == 1


def test_same_agreement_version_for_another_partner_is_fine():
    AgreementFactory(version="2026.1")
    AgreementFactory(version="2026.1")

    assert Agreement.objects.filter(version="2026.1").count() == 2


def test_agreement_ending_before_signing_is_refused_by_clean():
    agreement = AgreementFactory.build(
        partner=PartnerFactory(), signed_at=NOW, valid_until=NOW.date() - datetime.timedelta(days=1)
    )

    with pytest.raises(ValidationError) as excinfo:
        agreement.full_clean()

    assert excinfo.value.message_dict["valid_until"] == ["An agreement cannot end before it was signed."]


def test_agreement_ending_on_signing_day_is_valid():
    agreement = AgreementFactory.build(partner=PartnerFactory(), signed_at=NOW, valid_until=NOW.date())

    agreement.full_clean()


def test_agreement_without_end_is_current():
    agreement = AgreementFactory.build(signed_at=NOW, valid_until=None)

    assert agreement.is_current(today=datetime.date(2040, 1, 1))


def test_agreement_is_current_through_its_last_day():
    agreement = AgreementFactory.build(signed_at=NOW, valid_until=datetime.date(2026, 12, 31))

    assert agreement.is_current(today=datetime.date(2026, 12, 31))


def test_agreement_is_not_current_after_its_last_day():
    agreement = AgreementFactory.build(signed_at=NOW, valid_until=datetime.date(2026, 12, 31))

    assert not agreement.is_current(today=datetime.date(2027, 1, 1))


def test_agreement_is_current_uses_local_date_by_default():
    agreement = AgreementFactory.build(signed_at=NOW, valid_until=timezone.localdate())

    assert agreement.is_current()


def test_partner_account_manager_cannot_be_deleted_while_managing():
    manager = AccountManagerFactory()
    PartnerFactory(account_manager=manager)

    with pytest.raises(ProtectedError), transaction.atomic():
        manager.delete()
