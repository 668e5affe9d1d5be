"""Factories for directory connections, people and addresses."""

import uuid

import factory
from django.utils import timezone

from core.emails import normalize_email
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    SyncMode,
    SyncRun,
)


class DirectoryConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryConnection

    partner = factory.SubFactory("tests.partners.factories.PartnerFactory")
    uri = "ldap://127.0.0.1:3389"
    bind_dn = "cn=portal-sync,ou=service,dc=example,dc=test"
    bind_password = "sync-secret"
    base_dn = "ou=people,dc=example,dc=test"


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryUser

    partner = factory.SubFactory("tests.partners.factories.PartnerFactory")
    external_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    display_name = factory.Faker("name")
    dn = factory.LazyAttribute(lambda o: f"cn={o.display_name},ou=people,dc=example,dc=test")


class DirectoryAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryAddress

    directory_user = factory.SubFactory(DirectoryUserFactory)
    partner = factory.SelfAttribute("directory_user.partner")
    display_address = factory.Sequence(lambda n: f"Mailbox{n}@Partner.example")
    address = factory.LazyAttribute(lambda o: normalize_email(o.display_address))
    kind = AddressKind.PRIMARY


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    connection = factory.SubFactory(DirectoryConnectionFactory)
    mode = SyncMode.FULL
    started_at = factory.LazyFunction(timezone.now)
