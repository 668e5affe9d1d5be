"""Identifier-first sign-in with cloud passwords, the primary-address rule, and two-factor."""

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from accounts import errors, selectors
from accounts.models import TOTPDevice
from accounts.services import two_factor
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from partners.models import AccountDomain, AuthMethod, TwoFactorPolicy
from tests.accounts.factories import PASSWORD, AccountManagerFactory, AdminFactory, UserFactory
from tests.conftest import login_with_second_factor, totp_code
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def sign_in(client, email, password=PASSWORD):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def visible(response) -> str:
    """What a visitor sees, minus the per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.fixture
def msp():
    """An MSP whose directory (a CSV upload) has Ann with an alias and Dan, disabled."""
    partner = PartnerFactory(slug="acme")
    AccountDomain.objects.create(partner=partner, domain="acme.example")
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Ann,Ann@acme.example,ann.alias@acme.example,ann@elsewhere.example,yes\n"
        b"Dan,dan@acme.example,,,no\n"
    ))
    return partner


# -- the email step --------------------------------------------------------------------------------

def test_the_email_step_leads_to_the_password_step(client):
    response = client.post("/accounts/login/", {"email": "someone@anywhere.example"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/password/"


def test_the_email_step_explains_that_only_primary_addresses_sign_in(client):
    page = client.get("/accounts/login/").content.decode()
    assert "primary" in page and "Aliases and forwarding addresses cannot sign in" in page


def test_an_address_that_is_not_one_is_asked_again(client):
    response = client.post("/accounts/login/", {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter your email address" in response.content.decode()


def test_an_account_enforcing_sso_goes_straight_to_its_provider(client):
    partner = PartnerFactory()
    settings = partner.account_settings
    settings.auth_method, settings.sso_enforced = AuthMethod.SSO, True
    settings.sso_issuer, settings.sso_client_id = "https://idp.example", "portal"
    settings.save()
    AccountDomain.objects.create(partner=partner, domain="sso.example")
    response = client.post("/accounts/login/", {"email": "anyone@sso.example"})
    assert response["Location"] == "/accounts/sso/start/"
    assert client.get("/accounts/login/password/")["Location"] == "/accounts/sso/start/"


# -- no account enumeration ------------------------------------------------------------------------

def test_the_password_step_looks_the_same_for_unknown_and_known_addresses(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    client.post("/accounts/login/", {"email": "ann@acme.example"})
    known = client.get("/accounts/login/password/")
    client.post("/accounts/login/", {"email": "zed@acme.example"})
    unknown = client.get("/accounts/login/password/")
    assert known.status_code == unknown.status_code == 200
    assert visible(known).replace("ann@acme.example", "X") == visible(unknown).replace("zed@acme.example", "X")


def test_unknown_alias_disabled_and_wrong_password_answer_alike(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    UserFactory(display_email="dan@acme.example", partner=msp)
    answers = {}
    for n, (label, email, password) in enumerate([
        ("wrong password", "ann@acme.example", "wrong"),
        ("unknown", "nobody@acme.example", PASSWORD),
        ("alias", "ann.alias@acme.example", PASSWORD),
        ("forwarding", "ann@elsewhere.example", PASSWORD),
        ("disabled", "dan@acme.example", PASSWORD),
    ]):
        visitor = client.__class__(REMOTE_ADDR=f"10.0.0.{n + 1}")  # stay under the per-client throttle
        response = sign_in(visitor, email, password)
        answers[label] = (response.status_code, visible(response).replace(email, "X"))
        assert str(errors.SIGN_IN_FAILED) in response.content.decode(), label
    assert len(set(answers.values())) == 1


# -- cloud passwords -----------------------------------------------------------------------------

def test_the_primary_address_signs_in_in_any_case(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    response = sign_in(client, "ANN@Acme.Example")
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditEvent.objects.filter(action="signin.succeeded", actor=user).exists()


def test_signing_in_gives_a_new_session_key(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    client.post("/accounts/login/", {"email": "ann@acme.example"})
    before = client.session.session_key
    sign_in(client, "ann@acme.example")
    assert client.session.session_key != before


def test_a_failure_is_audited_with_the_address_tried(client, msp):
    sign_in(client, "Nobody@Acme.example", "x")
    event = AuditEvent.objects.get(action="signin.failed")
    assert event.data["email"] == "nobody@acme.example"
    assert event.actor is None


def test_a_deactivated_portal_user_cannot_sign_in(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp, is_active=False)
    assert str(errors.SIGN_IN_FAILED) in sign_in(client, "ann@acme.example").content.decode()


def test_an_inactive_partner_signs_no_one_in(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    msp.is_active = False
    msp.save()
    assert str(errors.SIGN_IN_FAILED) in sign_in(client, "ann@acme.example").content.decode()


def test_a_domain_password_account_accepts_no_cloud_password(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    settings = msp.account_settings
    settings.auth_method = AuthMethod.DOMAIN_PASSWORD
    settings.save()
    assert str(errors.SIGN_IN_FAILED) in sign_in(client, "ann@acme.example").content.decode()


def test_a_safe_next_address_is_followed_and_another_site_is_not(client, msp):
    UserFactory(display_email="ann@acme.example", partner=msp)
    client.get("/accounts/login/?next=/accounts/security/")
    assert sign_in(client, "ann@acme.example")["Location"] == "/accounts/security/"
    client.post("/accounts/logout/")
    client.get("/accounts/login/?next=https://evil.example/")
    assert sign_in(client, "ann@acme.example")["Location"] == "/"


# -- two-factor ------------------------------------------------------------------------------------

def test_a_person_with_an_authenticator_is_signed_in_only_after_the_code(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert sign_in(client, "ann@acme.example")["Location"] == "/accounts/login/verify/"
    assert "_auth_user_id" not in client.session
    response = client.post("/accounts/login/verify/", {"token": totp_code(device.bin_key)})
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_wrong_code_is_refused(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    sign_in(client, "ann@acme.example")
    wrong = "123456" if totp_code(device.bin_key) != "123456" else "654321"
    response = client.post("/accounts/login/verify/", {"token": wrong})
    assert str(errors.CODE_WRONG) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_backup_code_works_once(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    device = two_factor.enrolment_start(user=user)
    codes = two_factor.enrolment_confirm(user=user, device=device, token=totp_code(device.bin_key))
    sign_in(client, "ann@acme.example")
    assert client.post("/accounts/login/verify/", {"token": codes[0]})["Location"] == "/"
    client.post("/accounts/logout/")
    sign_in(client, "ann@acme.example")
    assert str(errors.CODE_WRONG) in client.post("/accounts/login/verify/", {"token": codes[0]}).content.decode()
    assert selectors.backup_codes_left(user) == 9


def test_the_code_step_expires(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    sign_in(client, "ann@acme.example")
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        response = client.post("/accounts/login/verify/", {"token": totp_code(device.bin_key)})
    assert response["Location"] == "/accounts/login/"


def test_enrolment_confirms_the_app_with_a_code_and_gives_ten_backup_codes(client, msp):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    client.force_login(user)
    page = client.get("/accounts/two-factor/setup/").content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/accounts/two-factor/setup/", {"token": totp_code(device.bin_key)})
    assert response["Location"] == "/accounts/two-factor/backup-codes/"
    codes = re.findall(r"<code>(\d{8})</code>", client.get(response["Location"]).content.decode())
    assert len(codes) == 10
    assert TOTPDevice.objects.get(user=user).confirmed
    assert AuditEvent.objects.filter(action="two_factor.enrolled", actor=user).exists()
    assert client.get("/accounts/two-factor/backup-codes/")["Location"] == "/accounts/security/"  # shown once


def test_vendor_staff_must_enrol_before_anything_else(client):
    manager = AccountManagerFactory()
    assert sign_in(client, manager.email)["Location"] == "/accounts/two-factor/setup/"
    assert client.get("/")["Location"] == "/accounts/two-factor/setup/"
    assert client.post("/accounts/two-factor/later/")["Location"] == "/accounts/two-factor/setup/"


def test_a_required_policy_gives_a_grace_period_then_insists(client, msp):
    settings = msp.account_settings
    settings.two_factor_policy, settings.two_factor_grace_days = TwoFactorPolicy.REQUIRED, 7
    settings.save()
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    assert sign_in(client, "ann@acme.example")["Location"] == "/accounts/two-factor/setup/"
    assert client.post("/accounts/two-factor/later/")["Location"] == "/"  # within the grace period
    client.post("/accounts/logout/")
    user.refresh_from_db()
    assert user.two_factor_required_since is not None
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        assert sign_in(client, "ann@acme.example")["Location"] == "/accounts/two-factor/setup/"
        assert client.get("/")["Location"] == "/accounts/two-factor/setup/"


def test_an_off_policy_sends_no_one_to_enrolment(client, msp):
    settings = msp.account_settings
    settings.two_factor_policy = TwoFactorPolicy.OFF
    settings.save()
    UserFactory(display_email="ann@acme.example", partner=msp)
    assert sign_in(client, "ann@acme.example")["Location"] == "/"


def test_the_admin_needs_a_second_factor(client):
    admin = AdminFactory()
    client.force_login(admin)
    to_admin_login = client.get("/admin/")["Location"]
    assert client.get(to_admin_login)["Location"].startswith("/accounts/login/?next=")
    login_with_second_factor(client, admin)
    assert client.get("/admin/").status_code == 200


# -- audited admin actions -------------------------------------------------------------------------

def test_resetting_someones_second_factor_is_audited_and_sends_them_to_enrol(client, msp):
    admin = AdminFactory()
    login_with_second_factor(client, admin)
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    TOTPDevice.objects.create(user=user, name="lost phone", confirmed=True)
    client.post("/admin/accounts/user/", {"action": "reset_two_factor", "_selected_action": [user.pk]})
    assert not TOTPDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert (event.actor_id, event.target_id) == (admin.pk, str(user.pk))


def test_unlocking_an_address_is_audited_and_lets_the_person_in(client, msp, settings):
    user = UserFactory(display_email="ann@acme.example", partner=msp)
    visitor = client.__class__()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(visitor, "ann@acme.example", "wrong")
    assert sign_in(visitor, "ann@acme.example").status_code == 429
    admin = AdminFactory()
    login_with_second_factor(client, admin)
    client.post("/admin/accounts/user/", {"action": "unlock_sign_in", "_selected_action": [user.pk]})
    event = AuditEvent.objects.get(action="signin.unlocked")
    assert event.actor_id == admin.pk and event.data["attempts_cleared"] >= 1
    fresh = client.__class__(REMOTE_ADDR="10.9.9.9")  # the first client's address stays throttled
    assert sign_in(fresh, "ann@acme.example")["Location"] == "/"
