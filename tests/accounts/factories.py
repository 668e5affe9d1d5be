"""Factories for portal users."""

import factory

from accounts.models import Role, User
from core.emails import normalize_email

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    display_email = factory.Sequence(lambda n: f"Person{n}@Partner.example")
    email = factory.LazyAttribute(lambda o: normalize_email(o.display_email))
    full_name = factory.Faker("name")
    role = Role.PARTNER_STAFF
    partner = factory.SubFactory("tests.partners.factories.PartnerFactory")
    password = factory.django.Password(PASSWORD)
    # As after a first sign-in, which keeps the browser's language (tests/accounts/test_language.py starts blank).
    language = "en"


class PartnerAdminFactory(UserFactory):
    role = Role.PARTNER_ADMIN


class AccountManagerFactory(UserFactory):
    display_email = factory.Sequence(lambda n: f"am{n}@vendor.example")
    role = Role.ACCOUNT_MANAGER
    partner = None


class AdminFactory(UserFactory):
    display_email = factory.Sequence(lambda n: f"admin{n}@vendor.example")
    role = Role.ADMIN
    partner = None
    is_staff = True
    is_superuser = True
