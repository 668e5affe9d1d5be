"""Factories for portal-user requests, their items and invites."""

import datetime

import factory
from django.utils import timezone

from core.emails import normalize_email
from onboarding.models import Invite, ItemState, PortalUserRequest, RequestItem, RequestSource
from tests.partners.factories import PartnerFactory


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
