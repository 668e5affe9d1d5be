"""The OpenID Connect provider harness (tests/oidc.py running tests/oidc_idp) itself, driven as a bare OAuth client.

The sign-in tests rely on these promises: discovery names the issuer and the endpoints; the authorization-code
flow demands PKCE and the client secret; the RS256 ID token verifies against the JWKS; the ID token and userinfo
carry each user's own email and email_verified, as written; users added to a running provider can sign in. No
Django database is involved (the IdP has its own SQLite).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests

from tests.conftest import free_port
from tests.oidc import DEFAULT_REDIRECT_URI, SSO_USERS, OidcProvider, login_with_requests

pytestmark = pytest.mark.integration

SCOPE = "openid email profile"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with OidcProvider().start(tmp_path_factory.mktemp("oidc-idp"), SSO_USERS) as started:
        yield started


@dataclass
class SignIn:
    """What a relying party ends up with after one authorization-code flow."""

    session: requests.Session
    tokens: dict[str, Any]
    id_token: dict[str, Any]
    userinfo: dict[str, Any]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def authorize(provider: OidcProvider, session: requests.Session, **params: str) -> requests.Response:
    """GET the authorize endpoint as the portal would (redirects followed: to the IdP login form)."""
    query = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": DEFAULT_REDIRECT_URI,
             "scope": SCOPE, **params}
    return session.get(provider.authorization_endpoint, params=query, timeout=10)


def callback_params(response: requests.Response) -> dict[str, str]:
    """The query of the redirect to the client's callback, which nothing serves here."""
    assert response.is_redirect, (response.status_code, response.url)
    location = response.headers["Location"]
    assert location.startswith(DEFAULT_REDIRECT_URI), location
    return dict(parse_qsl(urlsplit(location).query))


def get_code(provider: OidcProvider, username: str, password: str, *, state: str, nonce: str,
             challenge: str) -> tuple[requests.Session, dict[str, str]]:
    session = requests.Session()
    page = authorize(provider, session, state=state, nonce=nonce, code_challenge=challenge,
                     code_challenge_method="S256")
    redirect = login_with_requests(session, page, username, password, stop_at=DEFAULT_REDIRECT_URI)
    return session, callback_params(redirect)


def exchange(provider: OidcProvider, code: str, verifier: str, *,
             secret: str | None = None) -> requests.Response:
    """The token request, authenticated with client_secret_basic (the secret never travels in the browser)."""
    return requests.post(
        provider.token_endpoint,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI,
              "code_verifier": verifier},
        auth=(provider.client_id, provider.client_secret if secret is None else secret),
        timeout=10,
    )


def verify_id_token(provider: OidcProvider, id_token: str, *, nonce: str, access_token: str) -> dict[str, Any]:
    """Check the ID token as an RP must: RS256 signature by a JWKS key, issuer, audience, expiry, nonce, at_hash."""
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] == "RS256"
    jwks = jwt.PyJWKSet.from_dict(requests.get(provider.jwks_uri, timeout=10).json())
    claims = jwt.decode(
        id_token, jwks[header["kid"]].key, algorithms=["RS256"], audience=provider.client_id,
        issuer=provider.issuer, options={"require": ["iss", "aud", "sub", "exp", "iat"]},
    )
    assert claims["nonce"] == nonce
    assert claims["at_hash"] == b64url(hashlib.sha256(access_token.encode()).digest()[:16])
    return claims


def sign_in(provider: OidcProvider, username: str, password: str) -> SignIn:
    """The whole authorization-code flow: authorize (state, nonce, PKCE S256), log in, token, ID token, userinfo."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    session, params = get_code(provider, username, password, state=state, nonce=nonce, challenge=challenge)
    assert params["state"] == state
    response = exchange(provider, params["code"], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    id_token = verify_id_token(provider, tokens["id_token"], nonce=nonce, access_token=tokens["access_token"])
    userinfo = requests.get(provider.userinfo_endpoint, timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text
    return SignIn(session=session, tokens=tokens, id_token=id_token, userinfo=userinfo.json())


def test_discovery_names_the_issuer_and_the_endpoints(provider: OidcProvider) -> None:
    issuer = f"http://127.0.0.1:{provider.port}/o"
    document = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()

    assert provider.issuer == document["issuer"] == issuer
    assert document == provider.discovery
    assert document["authorization_endpoint"] == f"{issuer}/authorize/"
    assert document["token_endpoint"] == f"{issuer}/token/"
    assert document["userinfo_endpoint"] == f"{issuer}/userinfo/"
    assert document["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "S256" in document["code_challenge_methods_supported"]
    assert {"openid", "email", "profile"} <= set(document["scopes_supported"])
    assert {"sub", "email", "email_verified", "given_name", "family_name"} <= set(document["claims_supported"])


def test_jwks_publishes_one_rs256_signing_key(provider: OidcProvider) -> None:
    keys = requests.get(provider.jwks_uri, timeout=10).json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only


@pytest.mark.parametrize(
    ("username", "email", "verified", "given_name", "family_name"),
    [
        ("alice", "alice@partner-sso.example", True, "Alice", "Partner"),
        ("unverified", "unverified@partner-sso.example", False, "Una", "Verified"),
        ("alias", "alias.alice@partner-sso.example", True, "Alias", "Alice"),
        ("bob", "Bob.Mixed@Partner-SSO.example", True, "Bob", "Mixed"),  # the case as written, not lowered
    ],
)
def test_authorization_code_flow_gives_each_user_their_own_claims(
    provider: OidcProvider, username: str, email: str, verified: bool, given_name: str, family_name: str
) -> None:
    result = sign_in(provider, username, provider.user(username)["password"])

    expected = {"email": email, "email_verified": verified, "given_name": given_name, "family_name": family_name,
                "preferred_username": username}
    assert result.id_token.items() >= expected.items()
    assert result.userinfo.items() >= expected.items()
    assert result.userinfo["sub"] == result.id_token["sub"]
    # The IdP's cookies must not collide with the portal's on the same host (cookies ignore the port).
    cookie_names = {cookie.name for cookie in result.session.cookies}
    assert {"idp_sessionid", "idp_csrftoken"} <= cookie_names
    assert not cookie_names & {"sessionid", "csrftoken"}


def test_subjects_are_distinct_and_stable(provider: OidcProvider) -> None:
    first = sign_in(provider, "alice", "alice-pass").id_token["sub"]

    assert sign_in(provider, "alice", "alice-pass").id_token["sub"] == first
    assert sign_in(provider, "alias", "alias-pass").id_token["sub"] != first


def test_a_tampered_id_token_fails_the_signature_check(provider: OidcProvider) -> None:
    result = sign_in(provider, "alice", "alice-pass")
    header, _, signature = result.tokens["id_token"].split(".")
    forged_claims = {**result.id_token, "email": "mallory@partner-sso.example"}
    forged_payload = b64url(json.dumps(forged_claims).encode())

    with pytest.raises(jwt.InvalidSignatureError):
        verify_id_token(provider, f"{header}.{forged_payload}.{signature}", nonce=result.id_token["nonce"],
                        access_token=result.tokens["access_token"])


def test_authorization_without_pkce_is_refused(provider: OidcProvider) -> None:
    session = requests.Session()
    page = authorize(provider, session, state="s1", nonce="n1")

    redirect = login_with_requests(session, page, "alice", "alice-pass", stop_at=DEFAULT_REDIRECT_URI)

    params = callback_params(redirect)
    assert params["error"] == "invalid_request"
    assert params["state"] == "s1"
    assert "code" not in params


def test_the_token_endpoint_demands_the_client_secret_and_the_code_verifier(provider: OidcProvider) -> None:
    verifier, challenge = pkce_pair()
    _, params = get_code(provider, "alice", "alice-pass", state="s2", nonce="n2", challenge=challenge)

    wrong_secret = exchange(provider, params["code"], verifier, secret="not-the-secret")
    wrong_verifier = exchange(provider, params["code"], pkce_pair()[0])

    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert wrong_verifier.status_code == 400
    assert wrong_verifier.json()["error"] == "invalid_grant"


def test_a_wrong_password_shows_the_login_form_again(provider: OidcProvider) -> None:
    session = requests.Session()
    page = authorize(provider, session, state="s3", nonce="n3", code_challenge=pkce_pair()[1],
                     code_challenge_method="S256")

    response = login_with_requests(session, page, "alice", "wrong-pass", stop_at=DEFAULT_REDIRECT_URI)

    assert response.status_code == 200
    assert 'id="idp-error"' in response.text
    assert 'id="idp-login"' in response.text


def test_login_with_requests_rejects_a_page_that_is_not_the_login_form(provider: OidcProvider) -> None:
    response = requests.get(provider.jwks_uri, timeout=10)

    with pytest.raises(AssertionError, match="expected the IdP login form"):
        login_with_requests(requests.Session(), response, "alice", "alice-pass")


def test_users_added_to_the_running_provider_can_sign_in_and_be_updated(provider: OidcProvider) -> None:
    provider.add_user("carol", password="carol-pass", email="carol@partner-sso.example", email_verified=False,
                      given_name="Carol", family_name="Late")

    before = sign_in(provider, "carol", "carol-pass").userinfo
    provider.add_user("carol", password="carol-pass-2", email="Carol@Partner-SSO.example", email_verified=True)
    after = sign_in(provider, "carol", "carol-pass-2").userinfo

    assert (before["email"], before["email_verified"], before["given_name"]) == (
        "carol@partner-sso.example", False, "Carol")
    assert (after["email"], after["email_verified"]) == ("Carol@Partner-SSO.example", True)
    assert after["sub"] == before["sub"]  # the same account, updated in place
    assert sign_in(provider, "alice", "alice-pass").userinfo["email"] == "alice@partner-sso.example"


def test_a_provider_on_a_chosen_port_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    provider = OidcProvider(client_id="other", client_secret="other-secret").start(
        tmp_path, [{"username": "dave", "password": "dave-pass", "email": "dave@example.test"}], port=port)
    try:
        assert provider.port == port
        assert provider.issuer == f"http://127.0.0.1:{port}/o"
        assert sign_in(provider, "dave", "dave-pass").userinfo["email_verified"] is False  # not given: unverified
    finally:
        provider.stop()

    assert provider.process is None
    provider.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/o/.well-known/openid-configuration", timeout=2)
    assert (tmp_path / "idp.log").exists()
