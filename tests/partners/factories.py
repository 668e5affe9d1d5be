"""Factories for partners, their account settings and agreements."""

import datetime
import hashlib

import factory
from django.utils import timezone

from partners.models import AccountSettings, Agreement, AgreementVersion, Partner, PartnerKind


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = PartnerKind.MSP
    account_manager = factory.SubFactory("tests.accounts.factories.AccountManagerFactory")
    account_settings = factory.RelatedFactory("tests.partners.factories.AccountSettingsFactory", "partner")


class AccountSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountSettings

    partner = factory.SubFactory(PartnerFactory, account_settings=None)


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    partner = factory.SubFactory(PartnerFactory)
    version = factory.Sequence(lambda n: f"2026.{n}")
    signed_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))
    signed_by_name = factory.Faker("name")


class AgreementVersionFactory(factory.django.DjangoModelFactory):
    """A published version whose document is only named (no file is written): for pages that list versions.
    Tests that read the document publish one through partners.services.agreement_version_publish."""

    class Meta:
        model = AgreementVersion

    partner_kind = PartnerKind.MSP
    label = factory.Sequence(lambda n: f"2027.{n}")
    document = factory.Sequence(lambda n: f"agreements/versions/2027/{n:032x}.pdf")
    document_sha256 = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())
    valid_for_days = 365
