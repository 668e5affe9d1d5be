"""Passkeys and security keys (WebAuthn) through the portal's real ceremonies, with a software authenticator:
registering, the second factor, passwordless sign-in and who may use it, the phishing-resistant policy,
removal, audit events and mails. In Chromium with its virtual authenticator: tests/browser/test_passkeys.py."""

import time

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn.models import WebAuthnCredential

from accounts import selectors
from accounts.flow import ENROL_REQUIRED, SIGNED_IN_AT
from accounts.models import AccessEnded, TOTPDevice
from accounts.services import passkeys, two_factor
from core.models import AuditEvent, OutboundMail
from partners.models import AccountDomain, AuthMethod, TwoFactorPolicy
from tests.accounts.factories import PASSWORD, AccountManagerFactory, UserFactory
from tests.accounts.test_passkeys_authenticator import SoftAuthenticator
from tests.conftest import totp_code
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:8000"
REGISTER_BEGIN = "/accounts/two-factor/passkeys/register/begin/"
REGISTER_COMPLETE = "/accounts/two-factor/passkeys/register/complete/"
VERIFY_BEGIN = "/accounts/login/verify/passkey/begin/"
VERIFY_COMPLETE = "/accounts/login/verify/passkey/complete/"
SIGNIN_BEGIN = "/accounts/login/passkey/begin/"
SIGNIN_COMPLETE = "/accounts/login/passkey/complete/"


@pytest.fixture(autouse=True)
def portal_url(settings):
    settings.PORTAL_URL = ORIGIN


def post_json(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def session_of(user, *, device=None, signed_in_at=None) -> Client:
    """A signed-in client, verified with `device` when given, that signed in at `signed_in_at` (now)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[SIGNED_IN_AT] = signed_in_at or time.time()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def register(client, *, name="Laptop", authenticator=None):
    authenticator = authenticator or SoftAuthenticator()
    options = post_json(client, REGISTER_BEGIN).json()
    response = post_json(client, REGISTER_COMPLETE, {**authenticator.register(options, origin=ORIGIN), "name": name})
    return authenticator, response


def give_passkey(user, name="Laptop") -> SoftAuthenticator:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or WebAuthnCredential.objects.filter(
        user=user).first()
    authenticator, response = register(session_of(user, device=device), name=name)
    assert response.status_code == 200, response.content
    return authenticator


def password_step(client, email, password=PASSWORD):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def passkey_verify(client, authenticator, *, origin=ORIGIN, rp_id=None):
    options = post_json(client, VERIFY_BEGIN).json()
    return post_json(client, VERIFY_COMPLETE, authenticator.assert_(options, origin=origin, rp_id=rp_id))


def passkey_signin(client, authenticator, *, origin=ORIGIN):
    client.get("/accounts/login/")
    options = post_json(client, SIGNIN_BEGIN).json()
    return post_json(client, SIGNIN_COMPLETE, authenticator.assert_(options, origin=origin))


def events(action, user=None):
    found = AuditEvent.objects.filter(action=action)
    return found.filter(target_id=str(user.pk)) if user else found


def require_passkeys(partner, *, grace_days=7):
    account = partner.account_settings
    account.two_factor_policy = TwoFactorPolicy.REQUIRED
    account.two_factor_phishing_resistant = True
    account.two_factor_grace_days = grace_days
    account.save()


# -- relying party ---------------------------------------------------------------------------------


def test_a_loopback_portal_url_makes_localhost_the_relying_party_with_both_origins(settings):
    settings.PORTAL_URL = "http://127.0.0.1:8000"
    assert passkeys.relying_party_id() == "localhost"
    assert passkeys.allowed_origins() == ["http://127.0.0.1:8000", "http://localhost:8000"]


def test_a_named_portal_url_is_the_relying_party_and_only_origin(settings):
    settings.PORTAL_URL = "https://portal.example.com"
    assert passkeys.relying_party_id() == "portal.example.com"
    assert passkeys.allowed_origins() == ["https://portal.example.com"]


# -- registering -----------------------------------------------------------------------------------


def test_a_person_registers_several_named_passkeys_each_audited_and_mailed(django_capture_on_commit_callbacks):
    user = UserFactory()
    client = session_of(user)
    with django_capture_on_commit_callbacks(execute=True):
        _, first = register(client, name="  Laptop  ")
        _, second = register(client, name="")
    assert first.status_code == second.status_code == 200
    assert [p.name for p in selectors.passkeys_of(user)] == ["Laptop", passkeys.DEFAULT_NAME]
    assert [e.data["name"] for e in events("two_factor.passkey_added", user).order_by("pk")] == ["Laptop", "Passkey"]
    mails = OutboundMail.objects.filter(to=user.display_email, template="passkey_added")
    assert mails.count() == 2
    assert str(two_factor.SUBJECTS["passkey_added"]) == mails.first().subject
    assert '"Laptop"' in mails.order_by("pk").first().body


def test_the_registration_options_ask_for_no_attestation_and_preferred_user_verification():
    client = session_of(UserFactory())
    options = post_json(client, REGISTER_BEGIN).json()
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["rp"] == {"name": "Partner Portal", "id": "localhost"}


def test_someone_with_a_second_factor_registers_only_from_a_session_verified_with_it():
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    response = post_json(session_of(user), REGISTER_BEGIN)  # signed in, not verified
    assert response.status_code == 403
    assert not WebAuthnCredential.objects.filter(user=user).exists()


def test_a_registration_made_on_another_origin_is_refused():
    user = UserFactory()
    client = session_of(user)
    options = post_json(client, REGISTER_BEGIN).json()
    response = post_json(client, REGISTER_COMPLETE, SoftAuthenticator().register(options, origin="https://evil.example"))
    assert response.status_code == 403
    assert response.json()["detail"] == str(passkeys.PASSKEY_CEREMONY_FAILED)
    assert not WebAuthnCredential.objects.filter(user=user).exists()


def test_registration_needs_a_signed_in_person(client):
    assert post_json(client, REGISTER_BEGIN).status_code == 302  # to the sign-in page


# -- the second factor -----------------------------------------------------------------------------


def test_a_passkey_gives_the_second_factor_after_the_password():
    user = UserFactory()
    authenticator = give_passkey(user)
    client = Client()
    assert password_step(client, user.display_email)["Location"] == "/accounts/login/verify/"
    options = post_json(client, VERIFY_BEGIN).json()
    assert options["userVerification"] == "preferred"
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.assert_(options, origin=ORIGIN)["id"]]
    response = post_json(client, VERIFY_COMPLETE, authenticator.assert_(options, origin=ORIGIN))
    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/"
    assert client.get("/").wsgi_request.user.is_verified()
    success = events("signin.succeeded", user).get()
    assert success.data == {"method": AuthMethod.CLOUD_PASSWORD, "second_factor": "WebAuthnCredential"}


def test_the_second_step_needs_someone_waiting_at_it(client):
    assert post_json(client, VERIFY_BEGIN).status_code == 403


def test_a_passkey_of_someone_else_is_refused_at_the_second_step_and_audited():
    user, other = UserFactory(), UserFactory()
    give_passkey(user)
    stranger = give_passkey(other)
    client = Client()
    password_step(client, user.display_email)
    response = passkey_verify(client, stranger)
    assert response.status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert events("signin.failed", user).get().data["reason"] == "passkey: credential_user_mismatch"


def test_an_assertion_made_for_another_origin_is_refused_and_audited():
    user = UserFactory()
    authenticator = give_passkey(user)
    client = Client()
    password_step(client, user.display_email)
    response = passkey_verify(client, authenticator, origin="https://portal.evil.example")
    assert response.status_code == 403
    assert response.json()["detail"] == str(passkeys.PASSKEY_CEREMONY_FAILED)
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert events("signin.failed", user).get().data["reason"] == "passkey: invalid_authentication_response"


def test_an_assertion_for_another_relying_party_is_refused():
    user = UserFactory()
    authenticator = give_passkey(user)
    client = Client()
    password_step(client, user.display_email)
    assert passkey_verify(client, authenticator, rp_id="evil.example").status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_one_challenge_answers_once():
    user = UserFactory()
    authenticator = give_passkey(user)
    client = Client()
    password_step(client, user.display_email)
    options = post_json(client, VERIFY_BEGIN).json()
    answer = authenticator.assert_(options, origin=ORIGIN)
    assert post_json(client, VERIFY_COMPLETE, answer).status_code == 200
    client.post("/accounts/logout/")
    password_step(client, user.display_email)
    assert post_json(client, VERIFY_COMPLETE, answer).status_code == 400  # no state: the challenge was used


# -- passwordless ----------------------------------------------------------------------------------


def test_a_passkey_alone_signs_in_a_cloud_password_account_as_both_factors():
    user = UserFactory()
    authenticator = give_passkey(user)
    client = Client()
    client.get("/accounts/login/?next=/accounts/security/")
    options = post_json(client, SIGNIN_BEGIN).json()
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    response = post_json(client, SIGNIN_COMPLETE, authenticator.assert_(options, origin=ORIGIN))
    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/accounts/security/"
    request = client.get("/accounts/security/").wsgi_request
    assert request.user == user and request.user.is_verified()
    assert events("signin.succeeded", user).get().data == {"method": "passkey", "second_factor": "WebAuthnCredential"}


def test_vendor_staff_sign_in_with_a_passkey_alone():
    manager = AccountManagerFactory()
    authenticator = give_passkey(manager)
    client = Client()
    assert passkey_signin(client, authenticator).status_code == 200
    assert client.get("/").wsgi_request.user == manager


def test_passwordless_sign_in_needs_the_authenticator_to_verify_the_person():
    user = UserFactory()
    authenticator = give_passkey(user)
    authenticator.user_verified = False
    client = Client()
    assert passkey_signin(client, authenticator).status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize(("method", "enforced"), [
    (AuthMethod.SSO, True), (AuthMethod.SSO, False), (AuthMethod.DOMAIN_PASSWORD, False),
])
def test_passwordless_sign_in_is_refused_server_side_where_the_account_does_not_sign_in_with_portal_passwords(
    method, enforced,
):
    partner = PartnerFactory()
    user = UserFactory(partner=partner)
    authenticator = give_passkey(user)
    account = partner.account_settings
    account.auth_method, account.sso_enforced = method, enforced
    if method == AuthMethod.SSO:
        account.sso_issuer, account.sso_client_id = "https://idp.example", "portal"
    account.save()
    client = Client()
    response = passkey_signin(client, authenticator)
    assert response.status_code == 403
    assert response.json()["detail"] == str(passkeys.PASSKEY_SIGNIN_REFUSED)
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert events("signin.failed", user).get().data["method"] == "passkey"
    assert not selectors.passwordless_signin_allowed(user)


def test_passwordless_sign_in_is_refused_when_the_persons_access_ended():
    user = UserFactory()
    authenticator = give_passkey(user)
    user.is_active, user.access_ended, user.access_ended_at = False, AccessEnded.DEACTIVATED, user.date_joined
    user.save()
    client = Client()
    assert passkey_signin(client, authenticator).status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert events("signin.failed").get().data["method"] == "passkey"


def test_passwordless_sign_in_is_refused_when_the_partner_is_switched_off():
    user = UserFactory()
    authenticator = give_passkey(user)
    user.partner.is_active = False
    user.partner.save()
    assert passkey_signin(Client(), authenticator).status_code == 403


def test_the_sign_in_page_offers_a_passkey():
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with a passkey" in page and SIGNIN_BEGIN in page


# -- the phishing-resistant policy -----------------------------------------------------------------


def test_the_phishing_resistant_flag_applies_only_where_two_factor_is_required():
    user = UserFactory()
    account = user.partner.account_settings
    account.two_factor_phishing_resistant = True
    account.save()
    assert not selectors.phishing_resistant_required(user)
    require_passkeys(user.partner)
    assert selectors.phishing_resistant_required(user)


def test_vendor_staff_can_be_made_to_use_a_passkey(settings):
    manager = AccountManagerFactory()
    assert not selectors.phishing_resistant_required(manager)
    settings.VENDOR_STAFF_PHISHING_RESISTANT = True
    assert selectors.phishing_resistant_required(manager)
    TOTPDevice.objects.create(user=manager, name="app", confirmed=True)
    assert not selectors.has_required_factor(manager)


def test_under_the_policy_app_codes_are_refused_at_sign_in_for_someone_with_a_passkey():
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    give_passkey(user)
    require_passkeys(user.partner)
    client = Client()
    password_step(client, user.display_email)
    response = client.post("/accounts/login/verify/", {"token": totp_code(app.bin_key)})
    assert response.status_code == 200
    assert str(passkeys.CODES_REFUSED) in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert events("signin.failed", user).get().data["reason"] == "code refused: passkey required"


def test_under_the_policy_someone_without_a_passkey_is_sent_to_register_one():
    user = UserFactory(two_factor_required_since=None)
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    require_passkeys(user.partner, grace_days=0)
    user.two_factor_required_since = user.date_joined
    user.save()
    client = Client()
    password_step(client, user.display_email)
    response = client.post("/accounts/login/verify/", {"token": totp_code(app.bin_key)})
    assert response["Location"] == "/accounts/two-factor/passkeys/"
    assert client.session[ENROL_REQUIRED]
    assert client.get("/")["Location"] == "/accounts/two-factor/passkeys/"
    assert client.get("/accounts/two-factor/setup/")["Location"] == "/accounts/two-factor/passkeys/"
    _, registered = register(client)
    assert registered.status_code == 200 and registered.json()["redirect_url"] == "/"
    assert ENROL_REQUIRED not in client.session
    assert client.get("/").status_code == 200


def test_under_the_policy_the_grace_period_lets_someone_go_on_and_register_later():
    user = UserFactory()
    require_passkeys(user.partner, grace_days=7)
    client = Client()
    assert password_step(client, user.display_email)["Location"] == "/accounts/two-factor/passkeys/"
    assert ENROL_REQUIRED not in client.session
    assert selectors.two_factor_requirement(user) == selectors.GRACE
    assert client.get("/").status_code == 200


# -- removing --------------------------------------------------------------------------------------


def test_removing_a_passkey_right_after_signing_in_is_audited_and_mailed(django_capture_on_commit_callbacks):
    user = UserFactory()
    give_passkey(user, "Laptop")
    give_passkey(user, "Key")
    laptop = selectors.passkeys_of(user)[0]
    client = session_of(user, device=laptop)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/accounts/two-factor/passkeys/{laptop.pk}/remove/")
    assert response["Location"] == "/accounts/two-factor/passkeys/"
    assert [p.name for p in selectors.passkeys_of(user)] == ["Key"]
    assert events("two_factor.passkey_removed", user).get().data == {"passkey": laptop.pk, "name": "Laptop"}
    mail = OutboundMail.objects.get(to=user.display_email, template="passkey_removed")
    assert '"Laptop"' in mail.body


def test_removing_a_passkey_later_needs_a_current_code():
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    give_passkey(user)
    passkey = selectors.passkeys_of(user)[0]
    client = session_of(user, device=app, signed_in_at=time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60)
    url = f"/accounts/two-factor/passkeys/{passkey.pk}/remove/"
    response = client.post(url, {"current": ""})
    assert response.status_code == 200 and "enter a code of your authenticator app" in response.content.decode()
    assert selectors.has_passkey(user)
    assert client.post(url, {"current": totp_code(app.bin_key)})["Location"] == "/accounts/two-factor/passkeys/"
    assert not selectors.has_passkey(user)


def test_the_last_factor_a_policy_requires_is_not_removed():
    user = UserFactory()
    give_passkey(user)
    require_passkeys(user.partner)
    passkey = selectors.passkeys_of(user)[0]
    response = session_of(user, device=passkey).post(f"/accounts/two-factor/passkeys/{passkey.pk}/remove/")
    assert response.status_code == 400
    assert str(passkeys.PASSKEY_LAST_FACTOR) in response.content.decode()
    assert selectors.has_passkey(user)
    assert not events("two_factor.passkey_removed").exists()


def test_the_last_passkey_goes_where_two_factor_is_optional():
    user = UserFactory()
    give_passkey(user)
    passkey = selectors.passkeys_of(user)[0]
    session_of(user, device=passkey).post(f"/accounts/two-factor/passkeys/{passkey.pk}/remove/")
    assert not selectors.has_device(user)


def test_someone_elses_passkey_cannot_be_removed():
    owner, other = UserFactory(), UserFactory()
    give_passkey(owner)
    passkey = selectors.passkeys_of(owner)[0]
    session_of(other).post(f"/accounts/two-factor/passkeys/{passkey.pk}/remove/")
    assert selectors.has_passkey(owner)


def test_a_two_factor_reset_removes_passkeys_too():
    user = UserFactory()
    give_passkey(user)
    two_factor.two_factor_reset(user=user, actor=user.partner.account_manager)
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not selectors.has_device(user)


# -- what people see -------------------------------------------------------------------------------


def test_a_passkey_counts_as_a_second_factor_everywhere():
    user = UserFactory()
    give_passkey(user)
    found = selectors.signin_user(email=user.email)
    assert found.has_confirmed_device and selectors.has_device(user)
    assert password_step(Client(), user.display_email)["Location"] == "/accounts/login/verify/"


def test_the_security_page_shows_the_requirement_and_the_recovery(settings):
    user = UserFactory()
    require_passkeys(user.partner)
    page = session_of(user).get("/accounts/security/").content.decode()
    assert "Your account requires a passkey or security key as its second factor" in page
    assert "can reset your second factor" in page


@pytest.mark.parametrize("path", ["/accounts/two-factor/passkeys/", "/accounts/security/"])
def test_the_pages_say_to_use_localhost_for_a_loopback_portal(settings, path):
    settings.PORTAL_URL = "http://127.0.0.1:8000"
    assert "http://localhost:8000" in session_of(UserFactory()).get(path).content.decode()
    for elsewhere in ("https://portal.example.com", "http://localhost:8000"):
        settings.PORTAL_URL = elsewhere
        assert "not at an IP address" not in session_of(UserFactory()).get(path).content.decode()


def test_a_domain_of_an_sso_account_still_shows_the_passkey_button_but_cannot_use_it():
    partner = PartnerFactory()
    AccountDomain.objects.create(partner=partner, domain="sso-only.example")
    account = partner.account_settings
    account.auth_method, account.sso_enforced = AuthMethod.SSO, True
    account.sso_issuer, account.sso_client_id = "https://idp.example", "portal"
    account.save()
    # The page is the same for every address (no enumeration); the refusal is the server's (above).
    assert "Sign in with a passkey" in Client().get("/accounts/login/").content.decode()


def test_removing_a_passkey_twice_removes_it_once():
    user = UserFactory()
    give_passkey(user)
    passkey = selectors.passkeys_of(user)[0]
    for _ in range(2):
        passkeys.passkey_remove(user=user, credential=passkey, signed_in_at=time.time())
    assert events("two_factor.passkey_removed", user).count() == 1


# -- regressions of the security review ------------------------------------------------------------


def test_a_challenge_of_the_second_step_cannot_sign_in_passwordless_without_user_verification():
    """A security key without a PIN (no user verification) must not sign its owner in alone through a challenge
    issued for the second step of someone else's sign-in (which does not require user verification)."""
    victim = UserFactory()
    victim_key = give_passkey(victim)
    victim_key.user_verified = False
    attacker = UserFactory()
    give_passkey(attacker)
    client = Client()
    password_step(client, attacker.display_email)
    options = post_json(client, VERIFY_BEGIN).json()
    response = post_json(client, SIGNIN_COMPLETE, victim_key.assert_(options, origin=ORIGIN))
    assert response.status_code == 400  # no passwordless state in the session: the second step's is its own
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_passwordless_sign_in_requires_user_verification_whatever_the_state_says():
    user = UserFactory()
    key = give_passkey(user)
    key.user_verified = False
    client = Client()
    client.get("/accounts/login/")
    options = post_json(client, SIGNIN_BEGIN).json()
    session = client.session
    session["passkey_signin_state"] = {**session["passkey_signin_state"], "require_user_verification": False}
    session.save()
    assert post_json(client, SIGNIN_COMPLETE, key.assert_(options, origin=ORIGIN)).status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_a_passwordless_challenge_is_not_accepted_at_the_second_step():
    user = UserFactory()
    key = give_passkey(user)
    client = Client()
    options = post_json(client, SIGNIN_BEGIN).json()
    password_step(client, user.display_email)
    assert post_json(client, VERIFY_COMPLETE, key.assert_(options, origin=ORIGIN)).status_code == 400


def test_a_second_step_challenge_is_only_for_the_person_it_was_issued_to():
    first, second = UserFactory(), UserFactory()
    give_passkey(first)
    second_key = give_passkey(second)
    client = Client()
    password_step(client, first.display_email)
    options = post_json(client, VERIFY_BEGIN).json()
    password_step(client, second.display_email)  # the same browser goes on with another address
    assert post_json(client, VERIFY_COMPLETE, second_key.assert_(options, origin=ORIGIN)).status_code == 400


@pytest.mark.parametrize("flow", ["signin", "verify"])
def test_a_challenge_expires_after_the_ceremony_timeout(flow, settings):
    import datetime

    import time_machine
    from django.utils import timezone

    user = UserFactory()
    key = give_passkey(user)
    client = Client()
    if flow == "signin":
        begin, complete = SIGNIN_BEGIN, SIGNIN_COMPLETE
    else:
        password_step(client, user.display_email)
        begin, complete = VERIFY_BEGIN, VERIFY_COMPLETE
    options = post_json(client, begin).json()
    answer = key.assert_(options, origin=ORIGIN)
    # Past the ceremony's timeout (5 minutes), within the second step's wait (flow.PENDING_SECONDS is 5 minutes too).
    settings.OTP_WEBAUTHN_TIMEOUT_SECONDS = 60
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=90)):
        assert post_json(client, complete, answer).status_code == 400
        assert not client.get("/").wsgi_request.user.is_authenticated


def test_a_session_that_signed_in_long_ago_cannot_add_a_passkey():
    user = UserFactory()
    give_passkey(user)
    device = WebAuthnCredential.objects.get(user=user)
    stale = session_of(user, device=device, signed_in_at=time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60)
    response = post_json(stale, REGISTER_BEGIN)
    assert response.status_code == 403 and response.json()["detail"] == str(passkeys.PASSKEY_SIGN_IN_AGAIN)
    page = stale.get("/accounts/two-factor/passkeys/").content.decode()
    assert str(passkeys.PASSKEY_SIGN_IN_AGAIN) in page and 'id="passkey"' not in page
    assert WebAuthnCredential.objects.filter(user=user).count() == 1


def test_a_registration_begun_in_time_is_refused_when_completed_too_late():
    user = UserFactory()
    client = session_of(user)
    options = post_json(client, REGISTER_BEGIN).json()
    session = client.session
    session[SIGNED_IN_AT] = time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60
    session.save()
    response = post_json(client, REGISTER_COMPLETE, {**SoftAuthenticator().register(options, origin=ORIGIN),
                                                     "name": "Laptop"})
    assert response.status_code == 403
    assert not selectors.has_passkey(user)


def test_the_password_changed_mail_names_the_passkeys(django_capture_on_commit_callbacks):
    from accounts.services.passwords import password_changed

    user = UserFactory()
    give_passkey(user, name="Work laptop")
    with django_capture_on_commit_callbacks(execute=True):
        password_changed(user=user, via="reset")
    mail = OutboundMail.objects.get(template="password_changed")
    assert "- Work laptop" in mail.body and "/accounts/security/" in mail.body


def test_a_duplicate_credential_id_is_refused_not_a_server_error():
    owner, other = UserFactory(), UserFactory()
    key = give_passkey(owner)
    client = session_of(other)
    options = post_json(client, REGISTER_BEGIN).json()
    response = post_json(client, REGISTER_COMPLETE, {**key.register(options, origin=ORIGIN), "name": "x"})
    assert response.status_code == 403 and response.json()["detail"] == str(passkeys.PASSKEY_CEREMONY_FAILED)
    assert WebAuthnCredential.objects.get(credential_id_sha256=WebAuthnCredential.get_credential_id_sha256(
        key.credential_id)).user == owner
    assert not selectors.has_passkey(other)


def test_under_the_policy_a_new_passkey_verifies_the_session_that_gave_an_app_code():
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    require_passkeys(user.partner, grace_days=0)
    client = session_of(user, device=app)
    _, response = register(client)
    assert response.status_code == 200, response.content
    assert client.session[DEVICE_ID_SESSION_KEY] == selectors.passkeys_of(user)[0].persistent_id
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("has_passkey", [True, False])
def test_under_the_policy_a_session_verified_by_a_code_before_it_reaches_only_passkey_registration(has_passkey):
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    if has_passkey:
        give_passkey(user)
    client = session_of(user, device=app)
    assert client.get("/").status_code == 200
    require_passkeys(user.partner, grace_days=0)
    if not has_passkey:
        # Past the grace period (it starts at the first sign-in under the policy; during it codes still serve).
        user.two_factor_required_since = user.date_joined
        user.save()
    for path in ("/", "/accounts/security/", "/accounts/two-factor/setup/", "/accounts/two-factor/backup-codes/renew/"):
        assert client.get(path)["Location"] == "/accounts/two-factor/passkeys/", path
    assert client.get("/accounts/two-factor/passkeys/").status_code == 200
    _, response = register(client)
    assert response.status_code == 200 and response.json()["redirect_url"] == "/"
    assert client.get("/accounts/security/").status_code == 200


def test_under_the_policy_a_session_verified_by_a_passkey_is_not_confined():
    user = UserFactory()
    give_passkey(user)
    require_passkeys(user.partner, grace_days=0)
    client = session_of(user, device=selectors.passkeys_of(user)[0])
    assert client.get("/accounts/security/").status_code == 200


def test_during_the_grace_period_a_session_verified_by_a_code_is_not_confined():
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    require_passkeys(user.partner, grace_days=7)
    client = session_of(user, device=app)
    assert client.get("/accounts/security/").status_code == 200


def test_someone_with_only_a_passkey_adds_an_app_right_after_signing_in():
    user = UserFactory()
    give_passkey(user)
    client = session_of(user, device=selectors.passkeys_of(user)[0])
    page = client.get("/accounts/two-factor/setup/").content.decode()
    assert 'name="current"' not in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/accounts/two-factor/setup/", {"token": totp_code(device.bin_key)})
    assert response["Location"] == "/accounts/two-factor/backup-codes/"
    assert selectors.has_authenticator_app(user)


def test_someone_with_only_a_passkey_adds_an_app_only_after_a_recent_sign_in():
    user = UserFactory()
    give_passkey(user)
    client = session_of(user, device=selectors.passkeys_of(user)[0],
                        signed_in_at=time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60)
    assert str(two_factor.SIGN_IN_AGAIN_FOR_APP) in client.get("/accounts/two-factor/setup/").content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/accounts/two-factor/setup/", {"token": totp_code(device.bin_key)})
    assert response.status_code == 200 and str(two_factor.SIGN_IN_AGAIN_FOR_APP) in response.content.decode()
    assert not selectors.has_authenticator_app(user)


def test_someone_with_only_a_passkey_is_sent_to_set_up_an_app_for_backup_codes():
    user = UserFactory()
    give_passkey(user)
    client = session_of(user, device=selectors.passkeys_of(user)[0])
    assert client.get("/accounts/two-factor/backup-codes/renew/")["Location"] == "/accounts/two-factor/setup/"


def test_failed_passwordless_sign_ins_count_in_the_client_throttle(settings):
    from axes.models import AccessAttempt

    from accounts import lockout

    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 2
    user = UserFactory()
    key = give_passkey(user)
    client = Client()
    options = post_json(client, SIGNIN_BEGIN).json()  # begun before the failures
    stranger = SoftAuthenticator()  # a credential the portal does not know
    stranger.credential_id, stranger.user_handle = b"unknown-credential", b"unknown"
    for _ in range(2):
        assert passkey_signin(Client(), stranger).status_code == 403
    assert AccessAttempt.objects.get(username=lockout.PASSWORDLESS).failures_since_start == 2
    response = post_json(Client(), SIGNIN_BEGIN)
    assert response.status_code == 429 and "paused for" in response.json()["detail"]
    # The right passkey is refused too while the client is throttled.
    assert post_json(client, SIGNIN_COMPLETE, key.assert_(options, origin=ORIGIN)).status_code == 429
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_the_password_step_counts_failed_passwordless_sign_ins_of_the_client(settings):
    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 2
    user = UserFactory()
    stranger = SoftAuthenticator()
    stranger.credential_id, stranger.user_handle = b"unknown-credential", b"unknown"
    for _ in range(2):
        assert passkey_signin(Client(), stranger).status_code == 403
    assert password_step(Client(), user.display_email).status_code == 429


def test_a_sign_count_that_went_backwards_is_audited_as_such():
    user = UserFactory()
    key = give_passkey(user)
    assert passkey_signin(Client(), key).status_code == 200
    key.sign_count = 0  # a copy of the key that has not seen the last use
    assert passkey_signin(Client(), key).status_code == 403
    failed = events("signin.failed").get()
    assert failed.data["reason"] == passkeys.SIGN_COUNT_WENT_BACKWARDS
    assert failed.target_id == str(user.pk)


def test_a_sign_count_that_went_backwards_at_the_second_step_is_audited_as_such():
    user = UserFactory()
    key = give_passkey(user)
    client = Client()
    password_step(client, user.display_email)
    assert passkey_verify(client, key).status_code == 200
    key.sign_count = 0
    client = Client()
    password_step(client, user.display_email)
    assert passkey_verify(client, key).status_code == 403
    assert events("signin.failed", user).get().data["reason"] == passkeys.SIGN_COUNT_WENT_BACKWARDS


def test_under_the_policy_a_code_does_not_confirm_removing_a_passkey():
    user = UserFactory()
    app = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    give_passkey(user)
    give_passkey(user, name="Phone")
    require_passkeys(user.partner)
    passkey = selectors.passkeys_of(user)[0]
    client = session_of(user, device=passkey, signed_in_at=time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60)
    url = f"/accounts/two-factor/passkeys/{passkey.pk}/remove/"
    assert 'name="current"' not in client.get(url).content.decode()
    response = client.post(url, {"current": totp_code(app.bin_key)})
    assert str(passkeys.PASSKEY_REMOVE_SIGN_IN_AGAIN) in response.content.decode()
    assert len(selectors.passkeys_of(user)) == 2


def test_a_backup_code_given_for_a_refused_removal_is_not_used_up():
    user = UserFactory()
    give_passkey(user)
    codes = two_factor._new_backup_codes(user)  # backup codes without an app (a set kept from an earlier one)
    account = user.partner.account_settings
    account.two_factor_policy = TwoFactorPolicy.REQUIRED
    account.save()
    passkey = selectors.passkeys_of(user)[0]
    client = session_of(user, device=passkey, signed_in_at=time.time() - two_factor.RECENT_SIGNIN_SECONDS - 60)
    response = client.post(f"/accounts/two-factor/passkeys/{passkey.pk}/remove/", {"current": codes[0]})
    assert response.status_code == 400 and str(passkeys.PASSKEY_LAST_FACTOR) in response.content.decode()
    assert selectors.backup_codes_left(user) == len(codes)
    assert selectors.has_passkey(user)
