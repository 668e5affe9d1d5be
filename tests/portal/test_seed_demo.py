"""seed_demo loads the embedded default's demo data, and running it again changes nothing."""

import io

import pytest
from django.core.management import call_command

from accounts.models import Role, User
from directory_sync.models import AddressKind, DirectoryAddress, DirectoryUser, DirectoryUserStatus
from partners.models import Partner, PartnerKind
from partners.selectors import current_agreement
from portal.management.commands.seed_demo import DEMO_PASSWORD


def counts() -> dict:
    return {m.__name__: m.objects.count() for m in (User, Partner, DirectoryUser, DirectoryAddress)}


@pytest.mark.django_db
def test_seed_demo_creates_both_demo_partners_with_signed_agreements():
    call_command("seed_demo", stdout=io.StringIO())
    msp = Partner.objects.get(slug="demo-msp")
    reseller = Partner.objects.get(slug="demo-reseller")
    assert msp.kind == PartnerKind.MSP
    assert reseller.kind == PartnerKind.RESELLER
    assert current_agreement(partner=msp) is not None
    assert current_agreement(partner=reseller) is not None


@pytest.mark.django_db
def test_seed_demo_creates_every_role_and_the_demo_password_signs_in():
    call_command("seed_demo", stdout=io.StringIO())
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {Role.ADMIN, Role.ACCOUNT_MANAGER, Role.PARTNER_ADMIN, Role.PARTNER_STAFF}
    admin = User.objects.get(email="admin@vendor.example")
    assert admin.is_staff and admin.check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_demo_directory_has_primary_alias_forwarding_and_disabled_people():
    call_command("seed_demo", stdout=io.StringIO())
    kinds = set(DirectoryAddress.objects.filter(partner__slug="demo-msp").values_list("kind", flat=True))
    assert kinds == {AddressKind.PRIMARY, AddressKind.ALIAS, AddressKind.FORWARDING}
    assert DirectoryUser.objects.filter(partner__slug="demo-msp", status=DirectoryUserStatus.DISABLED).exists()
    staff = User.objects.get(email="sam.staff@msp.example")
    assert staff.directory_user.addresses.get(kind=AddressKind.PRIMARY).address == "sam.staff@msp.example"


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing(capsys):
    call_command("seed_demo")
    before = counts()
    call_command("seed_demo")
    assert counts() == before
    assert "nothing changed" in capsys.readouterr().out
