"""Factories for partners, agreements, requests and invites."""

import datetime

import factory
from django.utils import timezone

from core.emails import normalize_email
from onboarding.models import Invite, ItemState, PortalUserRequest, RequestItem, RequestSource
from partners.models import AccountSettings, Agreement, Partner, PartnerKind


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = PartnerKind.MSP
    account_manager = factory.SubFactory("tests.accounts.factories.AccountManagerFactory")
    account_settings = factory.RelatedFactory("tests.onboarding.factories.AccountSettingsFactory", "partner")


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


class PortalUserRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PortalUserRequest

    partner = factory.SubFactory(PartnerFactory)
    submitted_by = factory.SubFactory(
        "tests.accounts.factories.PartnerAdminFactory", partner=factory.SelfAttribute("..partner")
    )
    source = RequestSource.FORM


class RequestItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequestItem

    request = factory.SubFactory(PortalUserRequestFactory)
    partner = factory.SelfAttribute("request.partner")
    name = factory.Faker("name")
    display_email = factory.Sequence(lambda n: f"Requested{n}@Partner.example")
    email = factory.LazyAttribute(lambda o: normalize_email(o.display_email))
    state = ItemState.SUBMITTED


class InviteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invite

    partner = factory.SubFactory(PartnerFactory)
    display_email = factory.Sequence(lambda n: f"Invited{n}@Partner.example")
    email = factory.LazyAttribute(lambda o: normalize_email(o.display_email))
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))
