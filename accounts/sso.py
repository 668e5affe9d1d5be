"""Single sign-on with OpenID Connect, configured per account (mozilla-django-oidc underneath); SAML 2.0
accounts start here too and continue in accounts.saml.

mozilla-django-oidc knows one provider from global settings; here the provider is the one of
the account chosen at the email step (kept in the session), and its endpoints come from the
issuer's discovery document. State, nonce and PKCE (S256) are mozilla-django-oidc's.

A flow that activates a person through single sign-on (onboarding's invitation acceptance) uses
the hook `sign_in_expect`: the browser is expected to sign in as a person who is not active yet;
when the provider vouches for that person's address, the callback hands the verified person to
the flow's own page (`verified_user`) instead of signing them in. Accounts knows nothing of what
the flow is.
"""

import logging
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext, gettext_lazy
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts import errors, saml, selectors
from accounts.flow import first_factor_passed
from accounts.models import User
from accounts.services.audit import audit_signin_failure
from partners.models import AccountSettings, AuthMethod, SsoProtocol
from partners.selectors import active_account_settings

logger = logging.getLogger(__name__)

BACKEND = "accounts.backends.AccountOIDCBackend"  # the authentication backend of single sign-on
SAML_BACKEND = "accounts.backends.AccountSAMLBackend"
SESSION_PARTNER = "sso_partner_id"
SESSION_EMAIL = "sso_login_hint"
SESSION_EXPECTED = "sso_expected"  # {"user": pk, "then": path}: see sign_in_expect
SESSION_VERIFIED = "sso_verified"  # {"user": pk, "at": time}: see verified_user
VERIFIED_SECONDS = 5 * 60  # how long the flow that expected a person may take to use the verification
DISCOVERY_CACHE_SECONDS = 60 * 60
NOT_PRIMARY = gettext_lazy(
    "your address is not the primary address of a portal user of this account. "
    "Aliases and forwarding addresses cannot sign in."
)
NOT_SSO = gettext_lazy("your account does not use single sign-on.")


@dataclass(frozen=True)
class Provider:
    partner_id: int
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    signing_algorithm: str


def discover(issuer: str) -> dict:
    """The issuer's discovery document (cached): it must name itself as the configured issuer."""
    issuer = issuer.rstrip("/")
    key = f"oidc-discovery:{issuer}"
    document = cache.get(key)
    if document is None:
        try:
            response = requests.get(
                f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT,
                verify=settings.OIDC_VERIFY_SSL,
            )
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise errors.SsoError(f"discovery of {issuer} failed: {exc}") from exc
        if document.get("issuer", "").rstrip("/") != issuer:
            raise errors.SsoError(f"{issuer} names itself {document.get('issuer')!r}")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
                   if not document.get(k)]
        if missing:
            raise errors.SsoError(f"{issuer} does not announce {', '.join(missing)}")
        cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def provider_of(account: AccountSettings) -> Provider:
    """The OpenID Connect provider of an account, from its settings and the issuer's discovery.

    Only while the account uses OpenID Connect: its issuer and client stay stored after a switch to SAML, and a
    flow started before the switch must not come back through them."""
    if account.auth_method != AuthMethod.SSO or not account.sso_issuer or not account.sso_client_id:
        raise errors.SsoError("single sign-on is not configured for this account")
    if account.sso_protocol != SsoProtocol.OIDC:
        raise errors.SsoError("this account's single sign-on is not OpenID Connect")
    document = discover(account.sso_issuer)
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    # Asymmetric signatures only: HS256 would make the client secret the verification key.
    algorithm = next((a for a in ("RS256", "ES256", "PS256") if a in algorithms), None)
    if algorithm is None:
        raise errors.SsoError(f"{account.sso_issuer} signs ID tokens only with {', '.join(algorithms)}")
    return Provider(
        partner_id=account.partner_id,
        issuer=account.sso_issuer.rstrip("/"),
        client_id=account.sso_client_id,
        client_secret=account.sso_client_secret,
        scopes=account.sso_scopes or "openid email profile",
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        userinfo_endpoint=document["userinfo_endpoint"],
        jwks_uri=document["jwks_uri"],
        signing_algorithm=algorithm,
    )


def provider_for_request(request) -> Provider | None:
    """The provider of the account this browser started single sign-on with, if any."""
    partner_id = request.session.get(SESSION_PARTNER)
    account = active_account_settings(partner_id=partner_id)
    if account is None:
        return None
    try:
        return provider_of(account)
    except errors.SsoError:
        logger.exception("single sign-on of partner %s unavailable", partner_id)
        return None


def sign_in_expect(request: HttpRequest, *, user: User, email: str, then: str) -> None:
    """Hook: this browser is expected to sign in through its account's provider as `user`, who is
    not active yet (their activation is up to the caller); once the provider vouches for `email`,
    continue at the path `then`, where `verified_user` names the person. Anyone else the provider
    vouches for signs in as usual."""
    request.session[SESSION_PARTNER] = user.partner_id
    request.session[SESSION_EMAIL] = email
    request.session[SESSION_EXPECTED] = {"user": user.pk, "then": then}


def expected_user(request: HttpRequest, *, email: str, partner_id: int) -> User | None:
    """The not yet active person this browser is expected to sign in as, when the provider's verified
    address is theirs on this account (see sign_in_expect)."""
    expected = request.session.get(SESSION_EXPECTED)
    if not expected:
        return None
    return selectors.inactive_partner_user(pk=expected["user"], partner_id=partner_id, email=email)


def verified_user(request: HttpRequest) -> User | None:
    """The person single sign-on verified for the flow that expected them: once, for a few minutes."""
    verified = request.session.pop(SESSION_VERIFIED, None)
    if not verified or time.time() - verified["at"] > VERIFIED_SECONDS:
        return None
    user = selectors.user_by_pk(pk=verified["user"])
    if user is not None:
        # The backend that verified them (OpenID Connect or SAML), as django.contrib.auth.authenticate() notes it.
        user.backend = verified.get("backend", BACKEND)
    return user


def sign_in_refused(request: HttpRequest, reason: str) -> HttpResponse:
    """End a single sign-on that did not sign the person in: audit it, say why on the sign-in page."""
    # The address the provider vouched for, when there is one; else the one typed at sign-in.
    email = getattr(request, "sso_claimed_email", "") or request.session.get(SESSION_EMAIL, "")
    audit_signin_failure(request=request, email=email, method=AuthMethod.SSO, reason=str(reason))
    messages.error(request, errors.SSO_FAILED.format(reason=reason))
    return redirect("accounts:login")


def sign_in_verified(request: HttpRequest, *, email: str, partner_id: int, backend: str) -> HttpResponse:
    """A provider vouched for `email` on the account `partner_id` (SAML; OpenID Connect does the same in its
    backend and callback): the person a flow expects goes on to that flow; else the address must be the primary
    address of an active person of that account who signs in with single sign-on."""
    expected = expected_user(request, email=email, partner_id=partner_id)
    flow = request.session.pop(SESSION_EXPECTED, None)
    if expected is not None:
        # Not active yet: the flow that expected the person activates them, then signs them in.
        request.session[SESSION_VERIFIED] = {"user": expected.pk, "at": time.time(), "backend": backend}
        return redirect(flow["then"])
    user, refusal = sso_user(email=email, partner_id=partner_id)
    if user is None:
        return sign_in_refused(request, refusal)
    return first_factor_passed(request, user, backend=backend, method=AuthMethod.SSO)


def sso_user(*, email: str, partner_id: int) -> tuple[User | None, str]:
    """The person a provider's vouching for `email` signs in on the account `partner_id`, or why nobody (R7):
    the address must be the primary address of an active person of that account who uses single sign-on.
    OpenID Connect's backend and SAML apply this one rule."""
    user = selectors.signin_user(email=email)
    if user is None or user.partner_id != partner_id:
        return None, NOT_PRIMARY
    if selectors.user_auth_method(user) != AuthMethod.SSO:
        return None, NOT_SSO
    return user, ""


def _saml_start(request: HttpRequest, account: AccountSettings) -> HttpResponse:
    """Send the browser to the account's SAML identity provider with a fresh, signed AuthnRequest."""
    try:
        return redirect(saml.authn_request_url(request, account=account))
    except Exception:  # unusable metadata, xmlsec1 failing: the person is told, the log has the reason
        logger.exception("SAML single sign-on start for partner %s failed", account.partner_id)
        messages.error(request, errors.SSO_UNAVAILABLE)
        return redirect("accounts:login")


class SSOStartView(OIDCAuthenticationRequestView):
    """Send the browser to the account's provider (authorization code flow, state, nonce, PKCE)."""

    def __init__(self, *args, **kwargs):
        # The provider is chosen per request (below), not from global settings.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        account = active_account_settings(partner_id=request.session.get(SESSION_PARTNER))
        if account is not None and account.sso_protocol == SsoProtocol.SAML and account.auth_method == AuthMethod.SSO:
            return _saml_start(request, account)
        try:
            self.provider = provider_of(account) if account else None
        except errors.SsoError:
            logger.exception("single sign-on start failed")
            self.provider = None
        if self.provider is None:
            messages.error(request, errors.SSO_UNAVAILABLE)
            return redirect("accounts:login")
        self.OIDC_OP_AUTH_ENDPOINT = self.provider.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = self.provider.client_id
        return super().get(request)

    def get_settings(self, attr, *args):
        if attr == "OIDC_RP_SCOPES":
            return self.provider.scopes
        return super().get_settings(attr, *args)

    def get_extra_params(self, request):
        hint = request.session.get(SESSION_EMAIL)
        return {"login_hint": hint} if hint else {}


class SSOCallbackView(OIDCAuthenticationCallbackView):
    """Back from the provider: the backend checks the claims; sign-in then goes on as for passwords."""

    def get(self, request):
        try:
            return super().get(request)
        except (requests.RequestException, errors.SsoError):
            logger.exception("single sign-on callback failed")
            request.sso_failure = gettext("your provider could not be reached.")
            return self.login_failure()
        except SuspiciousOperation:
            # An unknown or already used state, or an ID token that failed its checks (signature,
            # nonce): a refusal like any other (message, audit event), not a bare "Bad Request".
            logger.warning("single sign-on callback refused", exc_info=True)
            request.sso_failure = gettext("the answer from your provider could not be checked. Please start again.")
            return self.login_failure()

    def login_failure(self):
        reason = getattr(self.request, "sso_failure", None) or gettext("the provider did not confirm who you are.")
        return sign_in_refused(self.request, reason)

    def login_success(self):
        expected = self.request.session.pop(SESSION_EXPECTED, None)
        if expected and expected["user"] == self.user.pk and selectors.active_user(pk=self.user.pk) is None:
            # The person a flow expected, not active yet: that flow activates them, then signs them in.
            self.request.session[SESSION_VERIFIED] = {"user": self.user.pk, "at": time.time(), "backend": BACKEND}
            return redirect(expected["then"])
        return first_factor_passed(self.request, self.user, backend=BACKEND, method=AuthMethod.SSO)
