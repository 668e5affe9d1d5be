"""Factories for partners, their account settings and agreements."""

import datetime

import factory
from django.utils import timezone

from partners.models import AccountSettings, Agreement, Partner, PartnerKind


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
