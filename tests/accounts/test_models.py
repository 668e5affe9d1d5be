"""The user model (normalised, case-insensitively unique emails, role/partner/staff invariants) and second factors."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import BackupCode, BackupCodeDevice, Role, TOTPDevice, User
from tests.accounts.factories import PASSWORD, AccountManagerFactory, UserFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_create_user_stores_normalised_email_and_keeps_display_form():
    user = User.objects.create_user("  Jane.Doe@Example.COM ", partner=PartnerFactory())

    user.refresh_from_db()
    assert user.email == "jane.doe@example.com"
    assert user.display_email == "Jane.Doe@Example.COM"
    assert str(user) == "Jane.Doe@Example.COM"


def test_create_user_stores_internationalised_domain_as_idna():
    user = User.objects.create_user("Jürgen@Bücher.example", partner=PartnerFactory())

    assert user.email == "jürgen@xn--bcher-kva.example"
    assert user.display_email == "Jürgen@Bücher.example"


def test_full_clean_normalises_email_from_display_email():
    user = User(display_email="Mixed.Case@Partner.Example", role=Role.PARTNER_STAFF, partner=PartnerFactory())

    user.full_clean(exclude=["password"])

    assert user.email == "mixed.case@partner.example"


def test_full_clean_rejects_an_invalid_display_email():
    user = User(display_email="not an address", role=Role.PARTNER_STAFF, partner=PartnerFactory())

    with pytest.raises(ValidationError) as excinfo:
        user.full_clean(exclude=["password"])

    assert "display_email" in excinfo.value.message_dict


def test_full_clean_rejects_same_email_in_another_case():
    existing = UserFactory(display_email="jane@partner.example")
    twin = User(display_email="JANE@Partner.Example", role=Role.PARTNER_STAFF, partner=existing.partner)

    with pytest.raises(ValidationError) as excinfo:
        twin.full_clean(exclude=["password"])

    assert excinfo.value.message_dict["display_email"] == ["A user with this email address already exists."]


def test_full_clean_accepts_the_user_itself_on_edit():
    user = UserFactory(display_email="jane@partner.example")
    user.display_email = "Jane@Partner.example"

    user.full_clean(exclude=["password"])

    assert user.email == "jane@partner.example"


def test_create_user_refuses_same_email_in_another_case():
    existing = UserFactory(display_email="jane@partner.example")

    with pytest.raises(ValidationError):
        User.objects.create_user(" JANE@PARTNER.EXAMPLE", partner=existing.partner)

    assert User.objects.filter(email="jane@partner.example").count() == 1


def test_database_refuses_duplicate_email_from_bulk_create():
    existing = UserFactory(display_email="jane@partner.example")
    twin = User(email="jane@partner.example", display_email="JANE@partner.example", partner=existing.partner)

    with pytest.raises(IntegrityError, match="user_email_unique"), transaction.atomic():
        User.objects.bulk_create([twin])

    assert User.objects.filter(email="jane@partner.example").count() == 1


def test_database_refuses_duplicate_email_from_queryset_update():
    UserFactory(display_email="jane@partner.example")
    other = UserFactory(display_email="john@partner.example")

    with pytest.raises(IntegrityError, match="user_email_unique"), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="jane@partner.example")

    other.refresh_from_db()
    assert other.email == "john@partner.example"


def test_database_refuses_email_that_is_not_lower_case():
    user = User(email="Jane@Partner.example", display_email="Jane@Partner.example", partner=PartnerFactory())

    with pytest.raises(IntegrityError, match="user_email_is_normalised"), transaction.atomic():
        User.objects.bulk_create([user])

    assert not User.objects.filter(display_email="Jane@Partner.example").exists()


def test_database_refuses_update_to_upper_case_email():
    user = UserFactory(display_email="jane@partner.example")

    with pytest.raises(IntegrityError, match="user_email_is_normalised"), transaction.atomic():
        User.objects.filter(pk=user.pk).update(email="JANE@partner.example")


@pytest.mark.parametrize("role", [Role.PARTNER_STAFF, Role.PARTNER_ADMIN])
def test_partner_role_without_partner_is_refused(role):
    with pytest.raises(IntegrityError, match="user_partner_matches_role"), transaction.atomic():
        UserFactory(role=role, partner=None)

    assert not User.objects.filter(role=role).exists()


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.ADMIN])
def test_vendor_role_with_partner_is_refused(role):
    partner = PartnerFactory()

    with pytest.raises(IntegrityError, match="user_partner_matches_role"), transaction.atomic():
        UserFactory(role=role, partner=partner)


def test_full_clean_reports_partner_role_mismatch():
    user = User(display_email="nobody@partner.example", role=Role.PARTNER_ADMIN, partner=None)

    with pytest.raises(ValidationError, match="user_partner_matches_role"):
        user.full_clean(exclude=["password"])


@pytest.mark.parametrize("role", [Role.PARTNER_STAFF, Role.PARTNER_ADMIN])
def test_partner_roles_cannot_be_admin_staff(role):
    with pytest.raises(IntegrityError, match="user_only_vendor_staff_in_admin"), transaction.atomic():
        UserFactory(role=role, is_staff=True)


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.ADMIN])
def test_vendor_roles_may_be_admin_staff(role):
    user = UserFactory(role=role, partner=None, is_staff=True)

    user.refresh_from_db()
    assert user.is_staff
    assert user.is_vendor_staff


def test_get_by_natural_key_finds_user_by_any_spelling():
    user = UserFactory(display_email="Jane.Doe@Partner.example")

    assert User.objects.get_by_natural_key("  JANE.DOE@PARTNER.EXAMPLE ") == user
    assert User.objects.get_by_natural_key("jane.doe@partner.example") == user


def test_get_by_natural_key_finds_idna_domain_by_unicode_spelling():
    user = User.objects.create_user("ops@xn--bcher-kva.example", partner=PartnerFactory())

    assert User.objects.get_by_natural_key("OPS@Bücher.example") == user


def test_create_user_without_password_has_unusable_password():
    user = User.objects.create_user("nopass@partner.example", partner=PartnerFactory())

    assert user.role == Role.PARTNER_STAFF
    assert not user.has_usable_password()


def test_create_superuser_is_staff_admin_without_partner():
    user = User.objects.create_superuser("Root@Vendor.example", PASSWORD)

    user.refresh_from_db()
    assert user.email == "root@vendor.example"
    assert user.role == Role.ADMIN
    assert user.is_staff
    assert user.is_superuser
    assert user.partner is None
    assert user.check_password(PASSWORD)


def test_create_superuser_overrides_role_and_flags_given_by_caller():
    user = User.objects.create_superuser("root@vendor.example", PASSWORD, role=Role.PARTNER_STAFF, is_staff=False)

    assert user.role == Role.ADMIN
    assert user.is_staff


def test_role_helpers_match_role():
    manager = AccountManagerFactory()
    partner_admin = UserFactory(role=Role.PARTNER_ADMIN)

    assert manager.is_account_manager and manager.is_vendor_staff and not manager.is_partner_admin
    assert partner_admin.is_partner_admin and not partner_admin.is_vendor_staff


def test_a_backup_code_set_holds_each_code_once():
    device = BackupCodeDevice.objects.create(user=UserFactory(), name="Backup codes")
    BackupCode.objects.create(device=device, code_hash="a" * 64)

    with pytest.raises(IntegrityError, match="backup_code_unique_per_set"), transaction.atomic():
        BackupCode.objects.create(device=device, code_hash="a" * 64)


def test_a_new_authenticator_gets_a_random_key_that_is_stored_encrypted():
    first, second = (TOTPDevice.objects.create(user=UserFactory(), name="phone") for _ in range(2))

    assert len(first.bin_key) == 20 and first.bin_key != second.bin_key
    assert TOTPDevice.objects.filter(key=first.key).count() == 0  # every encryption differs: no lookup by value
