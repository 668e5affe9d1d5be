"""OpenID Connect single sign-on (R8) against the suite's real provider, driven with `requests`.

The provider (tests/oidc.py, django-oauth-toolkit in its own process) redirects back into the
live server, so every test here runs on committed data (`transaction=True`) and talks HTTP only:
the portal's pages, the provider's login form, the callback. Nothing of the provider is mocked.

The SSO partner owns the domain partner-sso.example; its directory (a CSV connection) knows alice
(with the alias alias.alice@…), unverified, Bob.Mixed and stranger, so that the R7 lookups see
primary addresses and an alias.
"""

import base64
import hashlib
import html
import re
from importlib import import_module
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache

from accounts import errors
from accounts.models import TOTPDevice, User
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from partners.models import AccountDomain, AccountSettings, AuthMethod, SsoProtocol, TwoFactorPolicy
from tests.accounts.factories import UserFactory
from tests.conftest import free_port, totp_code
from tests.oidc import OidcProvider, login_with_requests
from tests.partners.factories import AccountSettingsFactory, PartnerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SSO_DOMAIN = "partner-sso.example"
DIRECTORY_CSV = (
    "name,primary,aliases,forwarding,enabled\n"
    "Alice Partner,alice@partner-sso.example,alias.alice@partner-sso.example,,yes\n"
    "Una Verified,unverified@partner-sso.example,,,yes\n"
    "Bob Mixed,Bob.Mixed@Partner-SSO.example,,,yes\n"
    "Sam Stranger,stranger@partner-sso.example,,,yes\n"
)
# People of the provider beyond SSO_USERS, added once per session (usernames nobody else uses).
STRANGER = {"username": "sso-stranger", "password": "sso-stranger-pass", "email": "stranger@partner-sso.example"}
OTHER_PARTNER_USER = {"username": "sso-other-carol", "password": "sso-other-carol-pass",
                      "email": "carol@other-sso.example"}
NOT_PRIMARY = "is not the primary address of a portal user of this account"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# -- setup shared with the browser tests ------------------------------------------------------------------------


def sso_partner(provider: OidcProvider, *, domain: str = SSO_DOMAIN, issuer: str | None = None,
                enforced: bool = False, two_factor_policy: str = TwoFactorPolicy.OPTIONAL, name: str = "SSO Partner"):
    """A partner whose account signs in with the provider, owning `domain`."""
    partner = PartnerFactory(name=name, account_settings=None)
    AccountSettingsFactory(
        partner=partner, auth_method=AuthMethod.SSO, sso_issuer=issuer or provider.issuer,
        sso_client_id=provider.client_id, sso_client_secret=provider.client_secret, sso_enforced=enforced,
        two_factor_policy=two_factor_policy,
    )
    AccountDomain.objects.create(partner=partner, domain=domain)
    return partner


def sso_directory(partner) -> None:
    """The partner's people as its directory knows them (primary addresses and one alias)."""
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=DIRECTORY_CSV.encode())


def signed_in_user(session: requests.Session) -> User | None:
    """Whom the portal session of this HTTP client belongs to, read from the session store."""
    key = session.cookies.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    user_id = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).get(SESSION_KEY)
    return User.objects.filter(pk=user_id).first() if user_id else None


def csrf_token(page: requests.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


def submit_email(session: requests.Session, base: str, email: str, *, path: str = "/accounts/login/",
                 follow: bool = True) -> requests.Response:
    """The identifier step: GET the sign-in page, POST the address."""
    page = session.get(f"{base}{path}", timeout=10)
    return session.post(page.url, data={"email": email, "csrfmiddlewaretoken": csrf_token(page)},
                        allow_redirects=follow, timeout=10)


def sso_sign_in(provider: OidcProvider, base: str, *, email: str, username: str,
                session: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """Type `email` at the portal, take single sign-on, sign in at the provider as `username`.

    Returns the client and the page the portal ends on (redirects followed).
    """
    session = session or requests.Session()
    submit_email(session, base, email)
    idp_form = session.get(f"{base}/accounts/sso/start/", timeout=10)
    return session, login_with_requests(session, idp_form, username, provider.user(username)["password"])


def portal_page(page: requests.Response, base: str) -> str | None:
    """The portal path a response ended on (None elsewhere: the provider has an /accounts/login/ too)."""
    url = page.url.split("?")[0]
    return url.removeprefix(base) if url.startswith(f"{base}/") else None


def session_that_asked_for(path: str, base: str) -> requests.Session:
    """A client that asked for `path`, was sent to sign in, and typed alice's address there."""
    session = requests.Session()
    bounced = session.get(f"{base}{path}", timeout=10)
    assert portal_page(bounced, base) == "/accounts/login/"
    submit_email(session, base, "alice@partner-sso.example", path=f"/accounts/login/?next={path}")
    return session


def text_of(page: requests.Response) -> str:
    return html.unescape(page.text)


# -- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def idp(oidc_provider: OidcProvider) -> OidcProvider:
    """The session's provider, with the extra people these tests sign in as."""
    for user in (STRANGER, OTHER_PARTNER_USER):
        if user["username"] not in {u["username"] for u in oidc_provider.users}:
            oidc_provider.add_user(user["username"], password=user["password"], email=user["email"],
                                   email_verified=True)
    return oidc_provider


@pytest.fixture(autouse=True)
def _no_cached_discovery():
    """Each test discovers its provider afresh (the discovery document is cached per issuer)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def partner(idp):
    partner = sso_partner(idp)
    sso_directory(partner)
    return partner


@pytest.fixture
def alice(partner):
    return UserFactory(partner=partner, display_email="alice@partner-sso.example", full_name="Alice Partner")


@pytest.fixture
def bob(partner):
    return UserFactory(partner=partner, display_email="Bob.Mixed@Partner-SSO.example", full_name="Bob Mixed")


# -- the authorization-code flow -----------------------------------------------------------------------------


def test_the_authorize_request_carries_state_nonce_and_an_s256_code_challenge(live_server, idp, alice):
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")

    start = session.get(f"{live_server.url}/accounts/sso/start/", allow_redirects=False, timeout=10)

    assert start.status_code == 302
    location = urlsplit(start.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == idp.authorization_endpoint
    params = dict(parse_qsl(location.query))
    assert params["response_type"] == "code"
    assert params["client_id"] == "portal"
    assert params["redirect_uri"] == f"{live_server.url}/accounts/sso/callback/"
    assert set(params["scope"].split()) >= {"openid", "email"}
    assert params["login_hint"] == "alice@partner-sso.example"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    # The browser's session holds what the callback will check: the state, its nonce and the PKCE verifier.
    stored = import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=session.cookies[settings.SESSION_COOKIE_NAME])["oidc_states"][params["state"]]
    assert stored["nonce"] == params["nonce"]
    verifier_hash = hashlib.sha256(stored["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode() == params["code_challenge"]


def test_a_verified_primary_address_signs_in_through_the_whole_flow(live_server, idp, alice):
    session, landing = sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alice")

    assert landing.status_code == 200
    assert landing.url == f"{live_server.url}/"
    assert [r.url.split("?")[0] for r in landing.history][-2:] == [
        f"{idp.authorization_endpoint}", f"{live_server.url}/accounts/sso/callback/"]
    assert signed_in_user(session) == alice
    assert "Alice Partner" in text_of(landing)


def test_sso_sign_in_returns_to_the_page_asked_for(live_server, idp, alice):
    session, landing = sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alice",
                                   session=session_that_asked_for("/accounts/security/", live_server.url))

    assert landing.url == f"{live_server.url}/accounts/security/"
    assert signed_in_user(session) == alice


def test_sso_sign_in_gives_the_browser_a_new_session_key(live_server, idp, alice):
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")
    before = session.cookies[settings.SESSION_COOKIE_NAME]

    sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alice", session=session)

    assert signed_in_user(session) == alice
    assert session.cookies[settings.SESSION_COOKIE_NAME] != before


def test_a_callback_replayed_in_another_browser_signs_nobody_in(live_server, idp, alice):
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")
    idp_form = session.get(f"{live_server.url}/accounts/sso/start/", timeout=10)
    callback = f"{live_server.url}/accounts/sso/callback/"
    redirect = login_with_requests(session, idp_form, "alice", "alice-pass", stop_at=callback)
    stolen = redirect.headers["Location"]
    assert "code=" in stolen and "state=" in stolen

    attacker = requests.Session()
    answer = attacker.get(stolen, timeout=10)

    assert portal_page(answer, live_server.url) == "/accounts/login/"
    assert signed_in_user(attacker) is None
    assert not AuditEvent.objects.filter(action="signin.succeeded").exists()


def test_a_used_callback_state_is_refused_with_a_message_and_an_audit_event(live_server, idp, alice):
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")
    idp_form = session.get(f"{live_server.url}/accounts/sso/start/", timeout=10)
    callback = f"{live_server.url}/accounts/sso/callback/"
    used = login_with_requests(session, idp_form, "alice", "alice-pass", stop_at=callback).headers["Location"]
    signed_in = session.get(used, timeout=10)
    session.post(f"{live_server.url}/accounts/logout/", data={"csrfmiddlewaretoken": csrf_token(signed_in)},
                 timeout=10)
    submit_email(session, live_server.url, "alice@partner-sso.example")
    session.get(f"{live_server.url}/accounts/sso/start/", allow_redirects=False, timeout=10)  # a new state

    replay = session.get(used, timeout=10)

    assert portal_page(replay, live_server.url) == "/accounts/login/"
    assert "the answer from your provider could not be checked" in text_of(replay)
    assert signed_in_user(session) is None
    assert AuditEvent.objects.filter(action="signin.succeeded").count() == 1
    assert AuditEvent.objects.filter(action="signin.failed", data__method=AuthMethod.SSO).count() == 1


def test_a_flow_started_before_the_account_switched_to_saml_cannot_finish(live_server, idp, alice):
    """The issuer and client stay stored after a switch to SAML: a callback of the old flow is refused all the same."""
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")
    idp_form = session.get(f"{live_server.url}/accounts/sso/start/", timeout=10)
    callback = f"{live_server.url}/accounts/sso/callback/"
    answer = login_with_requests(session, idp_form, "alice", "alice-pass", stop_at=callback).headers["Location"]
    AccountSettings.objects.filter(partner=alice.partner).update(
        sso_protocol=SsoProtocol.SAML, saml_idp_metadata_url="https://idp.partner-sso.example/metadata")

    landing = session.get(answer, timeout=10)

    assert portal_page(landing, live_server.url) == "/accounts/login/"
    assert signed_in_user(session) is None
    assert not AuditEvent.objects.filter(action="signin.succeeded").exists()
    assert AuditEvent.objects.filter(action="signin.failed", data__method=AuthMethod.SSO).count() == 1


# -- the email claim -------------------------------------------------------------------------------------------


def test_an_unverified_email_claim_is_refused(live_server, idp, partner):
    UserFactory(partner=partner, display_email="unverified@partner-sso.example")

    session, landing = sso_sign_in(idp, live_server.url, email="unverified@partner-sso.example",
                                   username="unverified")

    assert portal_page(landing, live_server.url) == "/accounts/login/"
    assert errors.SSO_FAILED.format(reason="your provider has not verified your email address.") in text_of(landing)
    assert signed_in_user(session) is None


def test_an_alias_address_claim_is_refused_even_for_a_portal_user_with_that_address(live_server, idp, alice):
    # A portal user whose address the directory now lists as an alias (of alice's): R7 says primary only.
    UserFactory(partner=alice.partner, display_email="alias.alice@partner-sso.example")

    session, landing = sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alias")

    assert portal_page(landing, live_server.url) == "/accounts/login/"
    page = text_of(landing)
    assert NOT_PRIMARY in page
    assert "Aliases and forwarding addresses cannot sign in." in page
    assert signed_in_user(session) is None


def test_a_mixed_case_claim_signs_in_the_existing_user(live_server, idp, bob):
    session, landing = sso_sign_in(idp, live_server.url, email="bob.mixed@partner-sso.example", username="bob")

    assert landing.url == f"{live_server.url}/"
    assert signed_in_user(session) == bob
    bob.refresh_from_db()
    assert (bob.email, bob.display_email) == ("bob.mixed@partner-sso.example", "Bob.Mixed@Partner-SSO.example")


def test_a_mixed_case_claim_never_creates_a_second_user(live_server, idp, bob):
    before = set(User.objects.values_list("pk", flat=True))

    sso_sign_in(idp, live_server.url, email="Bob.Mixed@Partner-SSO.example", username="bob")
    session, _ = sso_sign_in(idp, live_server.url, email="BOB.MIXED@partner-sso.example", username="bob")

    assert set(User.objects.values_list("pk", flat=True)) == before
    assert User.objects.filter(email__iexact="bob.mixed@partner-sso.example").count() == 1
    assert signed_in_user(session) == bob


def test_an_unknown_verified_address_creates_no_user(live_server, idp, alice):
    # stranger@… is a primary address in the directory and verified by the provider, but no portal user.
    before = User.objects.count()

    session, landing = sso_sign_in(idp, live_server.url, email="stranger@partner-sso.example",
                                   username=STRANGER["username"])

    assert portal_page(landing, live_server.url) == "/accounts/login/"
    assert NOT_PRIMARY in text_of(landing)
    assert User.objects.count() == before
    assert not User.objects.filter(email="stranger@partner-sso.example").exists()
    assert signed_in_user(session) is None


def test_a_portal_user_of_another_partner_is_refused(live_server, idp, alice):
    # The other partner uses the same provider; its person signs in there after starting on alice's account.
    other = sso_partner(idp, domain="other-sso.example", name="Other SSO Partner")
    carol = UserFactory(partner=other, display_email=OTHER_PARTNER_USER["email"])

    session, landing = sso_sign_in(idp, live_server.url, email="alice@partner-sso.example",
                                   username=OTHER_PARTNER_USER["username"])

    assert portal_page(landing, live_server.url) == "/accounts/login/"
    assert NOT_PRIMARY in text_of(landing)
    assert signed_in_user(session) is None
    assert not AuditEvent.objects.filter(action="signin.succeeded", target_id=str(carol.pk)).exists()


# -- enforced and offered SSO ------------------------------------------------------------------------------------


def test_enforced_sso_sends_the_email_step_straight_to_the_provider(live_server, idp, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(sso_enforced=True)
    session = requests.Session()

    answer = submit_email(session, live_server.url, "alice@partner-sso.example", follow=False)
    start = session.get(f"{live_server.url}{answer.headers['Location']}", allow_redirects=False, timeout=10)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/accounts/sso/start/"
    assert start.headers["Location"].startswith(f"{idp.authorization_endpoint}?")


def test_enforced_sso_offers_no_password(live_server, idp, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(sso_enforced=True)
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example", follow=False)

    page = session.get(f"{live_server.url}/accounts/login/password/", allow_redirects=False, timeout=10)
    attempt = session.post(f"{live_server.url}/accounts/login/password/", allow_redirects=False, timeout=10,
                           data={"password": "correct horse battery staple",
                                 "csrfmiddlewaretoken": session.cookies["csrftoken"]})

    assert (page.status_code, page.headers["Location"]) == (302, "/accounts/sso/start/")
    assert (attempt.status_code, attempt.headers["Location"]) == (302, "/accounts/sso/start/")
    assert signed_in_user(session) is None


def test_offered_sso_shows_the_password_form_and_the_sso_link(live_server, idp, alice):
    page = submit_email(requests.Session(), live_server.url, "alice@partner-sso.example")

    assert portal_page(page, live_server.url) == "/accounts/login/password/"
    assert 'id="sso-continue"' in page.text
    assert 'href="/accounts/sso/start/"' in page.text
    assert 'name="password"' in page.text


def test_offered_sso_still_accepts_the_cloud_password(live_server, idp, alice):
    session = requests.Session()
    page = submit_email(session, live_server.url, "alice@partner-sso.example")

    landing = session.post(page.url, timeout=10, data={"password": "correct horse battery staple",
                                                         "csrfmiddlewaretoken": csrf_token(page)})

    assert landing.url == f"{live_server.url}/"
    assert signed_in_user(session) == alice


# -- an unreachable provider -------------------------------------------------------------------------------------


def test_an_unreachable_issuer_says_sso_is_not_available_and_changes_nothing(live_server, idp, alice):
    dead = f"http://127.0.0.1:{free_port()}/o"
    AccountSettings.objects.filter(partner=alice.partner).update(sso_issuer=dead)
    users_before = list(User.objects.order_by("pk").values())
    session = requests.Session()
    submit_email(session, live_server.url, "alice@partner-sso.example")

    answer = session.get(f"{live_server.url}/accounts/sso/start/", timeout=10)

    assert portal_page(answer, live_server.url) == "/accounts/login/"
    assert [r.url for r in answer.history] == [f"{live_server.url}/accounts/sso/start/"]  # never sent to the IdP
    assert str(errors.SSO_UNAVAILABLE) in text_of(answer)
    assert signed_in_user(session) is None
    assert list(User.objects.order_by("pk").values()) == users_before
    assert AccountSettings.objects.get(partner=alice.partner).sso_issuer == dead
    assert not AuditEvent.objects.filter(action__startswith="signin.").exists()


def test_an_unreachable_issuer_does_not_open_the_password_step_for_enforced_sso(live_server, idp, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(
        sso_issuer=f"http://127.0.0.1:{free_port()}/o", sso_enforced=True)
    session = requests.Session()

    answer = submit_email(session, live_server.url, "alice@partner-sso.example")
    password_step = session.get(f"{live_server.url}/accounts/login/password/", allow_redirects=False, timeout=10)

    assert str(errors.SSO_UNAVAILABLE) in text_of(answer)
    assert 'name="password"' not in answer.text
    assert password_step.headers["Location"] == "/accounts/sso/start/"
    assert signed_in_user(session) is None


# -- audit -----------------------------------------------------------------------------------------------------


def test_an_sso_sign_in_is_audited_with_method_sso(live_server, idp, alice):
    sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alice")

    event = AuditEvent.objects.get(action="signin.succeeded")
    assert event.data == {"method": AuthMethod.SSO, "second_factor": ""}
    assert (event.actor_id, event.target_id, event.partner_id) == (alice.pk, str(alice.pk), alice.partner_id)


def test_a_refused_claim_is_audited_with_the_reason(live_server, idp, partner):
    UserFactory(partner=partner, display_email="unverified@partner-sso.example")

    sso_sign_in(idp, live_server.url, email="unverified@partner-sso.example", username="unverified")

    event = AuditEvent.objects.get(action="signin.failed")
    assert event.data == {"email": "unverified@partner-sso.example", "method": AuthMethod.SSO,
                          "reason": "your provider has not verified your email address."}
    assert event.partner_id == partner.pk
    assert not AuditEvent.objects.filter(action="signin.succeeded").exists()


# -- two-factor -----------------------------------------------------------------------------------------------


def test_required_two_factor_follows_sso_with_the_code_step(live_server, idp, alice):
    AccountSettings.objects.filter(partner=alice.partner).update(two_factor_policy=TwoFactorPolicy.REQUIRED)
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)

    session, verify_page = sso_sign_in(idp, live_server.url, email="alice@partner-sso.example", username="alice")
    assert verify_page.url == f"{live_server.url}/accounts/login/verify/"
    assert signed_in_user(session) is None
    landing = session.post(verify_page.url, timeout=10, data={"token": totp_code(device.bin_key),
                                                              "csrfmiddlewaretoken": csrf_token(verify_page)})

    assert landing.url == f"{live_server.url}/"
    assert signed_in_user(session) == alice
    event = AuditEvent.objects.get(action="signin.succeeded")
    assert event.data == {"method": AuthMethod.SSO, "second_factor": "TOTPDevice"}
