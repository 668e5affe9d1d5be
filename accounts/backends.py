"""The three ways to prove who you are: a cloud password, a domain password, single sign-on (OpenID Connect
or SAML 2.0).

Each backend answers only for the people of accounts that use its method and returns None for
everyone else, so `django.contrib.auth.authenticate` finds the right one (axes runs first and
refuses locked-out addresses). Every refusal looks the same from outside.
"""

import logging

import ldap
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import LDAPSearch, LDAPSettings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts import errors, sso
from accounts.selectors import active_user, may_use_cloud_password, signin_route, signin_user, user_auth_method
from directory_sync.errors import DirectoryError, DirectoryUnavailable
from directory_sync.selectors import directory_access
from partners.models import AuthMethod

logger = logging.getLogger(__name__)
User = get_user_model()


class _ActiveUserMixin:
    def get_user(self, user_id):
        return active_user(pk=user_id)


class CloudPasswordBackend(_ActiveUserMixin, ModelBackend):
    """A password the portal stores (Argon2), for accounts that use cloud passwords."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = signin_user(email=username, request=request)
        if user is None or not may_use_cloud_password(user):
            # Hash anyway: an unknown address takes as long as a wrong password.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class DomainPasswordBackend(_ActiveUserMixin, LDAPBackend):
    """A bind as the person against the partner's own directory (django-auth-ldap, per account).

    The LDAP settings are built for each attempt from the account's directory connection, never
    from global settings. The person is searched by the stable id the sync stored, so no user
    input ever reaches an LDAP filter.
    """

    settings_prefix = "PORTAL_ACCOUNT_LDAP_"  # nothing is read from Django settings under this prefix
    NETWORK_TIMEOUT = 5  # seconds: someone is waiting at the sign-in page
    OPERATION_TIMEOUT = 10

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or not password:
            return None
        user = signin_user(email=username, request=request)
        if user is None:
            self._probe_for(username)
            return None
        if user_auth_method(user) != AuthMethod.DOMAIN_PASSWORD:
            return None
        access = directory_access(partner_id=user.partner_id)
        person = user.directory_user
        if access is None or person is None:
            logger.warning("domain sign-in of %s impossible: no LDAP connection or directory person", user.pk)
            return None
        self._portal_user = user
        failures: list[Exception] = []

        def record(sender, exception, **kwargs):
            failures.append(exception)

        with access.options(network_timeout=self.NETWORK_TIMEOUT, operation_timeout=self.OPERATION_TIMEOUT) as options:
            self.settings = LDAPSettings(self.settings_prefix, {
                "SERVER_URI": access.uri,
                "START_TLS": access.start_tls,
                "BIND_DN": access.bind_dn,
                "BIND_PASSWORD": access.bind_password,
                "CONNECTION_OPTIONS": options,
                "USER_SEARCH": LDAPSearch(
                    access.base_dn, ldap.SCOPE_SUBTREE, access.person_filter(external_id=person.external_id)
                ),
                "ALWAYS_UPDATE_USER": False,
                "NO_NEW_USERS": True,
                "USER_ATTR_MAP": {},
            })
            ldap_error.connect(record, sender=type(self), weak=False)
            try:
                result = super().authenticate(request, username=user.email, password=password)
            finally:
                ldap_error.disconnect(record, sender=type(self))
        if result is None and failures:
            # A directory that did not answer is not a wrong password: say so, never fall back.
            raise errors.DirectoryUnreachable(str(failures[0]))
        return result

    def get_or_build_user(self, username, ldap_user):
        return self._portal_user, False

    def _probe_for(self, email: str) -> None:
        """For an address no one may sign in with on a domain-password account, talk to the
        directory anyway: the answer then takes as long, and an outage reads the same, whether
        or not the address exists."""
        route = signin_route(email=email)
        if not route.asks_domain_password:
            return
        access = directory_access(partner_id=route.partner_id)
        if access is None:
            return
        try:
            # The sign-in's own timeouts: an outage must take as long for an unknown address as for a known one.
            access.check_service_bind(network_timeout=self.NETWORK_TIMEOUT, operation_timeout=self.OPERATION_TIMEOUT)
        except DirectoryUnavailable as exc:
            raise errors.DirectoryUnreachable(str(exc)) from exc
        except DirectoryError:
            logger.warning("directory of partner %s refused the service bind", route.partner_id)


class AccountOIDCBackend(_ActiveUserMixin, OIDCAuthenticationBackend):
    """OpenID Connect with the provider configured on the person's account (see accounts.sso)."""

    def __init__(self, *args, **kwargs):
        # mozilla-django-oidc reads one global provider here; ours is chosen per account at callback time.
        self.UserModel = User

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs:
            return None
        provider = sso.provider_for_request(request)
        if provider is None:
            return None
        self.provider = provider
        self.OIDC_OP_TOKEN_ENDPOINT = provider.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = provider.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = provider.jwks_uri
        self.OIDC_RP_CLIENT_ID = provider.client_id
        self.OIDC_RP_CLIENT_SECRET = provider.client_secret
        self.OIDC_RP_SIGN_ALGO = provider.signing_algorithm
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def get_settings(self, attr, *args):
        if attr == "OIDC_RP_SCOPES" and getattr(self, "provider", None):
            return self.provider.scopes
        return super().get_settings(attr, *args)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        # mozilla-django-oidc checks the signature and the nonce; OIDC Core also wants the issuer
        # and the audience checked, so that a token minted for another client is never accepted.
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss", "").rstrip("/") != self.provider.issuer or self.provider.client_id not in audiences:
            self.request.sso_failure = gettext("the provider's token was not issued for this portal.")
            raise SuspiciousOperation("ID token issuer or audience mismatch")
        if len(audiences) > 1 and payload.get("azp") != self.provider.client_id:
            self.request.sso_failure = gettext("the provider's token was not issued for this portal.")
            raise SuspiciousOperation("ID token authorized party mismatch")
        return payload

    def verify_claims(self, claims):
        # The email claim must be there and verified by the provider (an unverified address could
        # be anyone's), and it must be a primary address on this account (checked below).
        self.request.sso_claimed_email = claims.get("email") or ""
        if not claims.get("email"):
            self.request.sso_failure = gettext("your provider did not share your email address.")
            return False
        if claims.get("email_verified") not in (True, "true"):
            self.request.sso_failure = gettext("your provider has not verified your email address.")
            return False
        return True

    def filter_users_by_claims(self, claims):
        expected = sso.expected_user(self.request, email=claims["email"], partner_id=self.provider.partner_id)
        if expected is not None:
            # A person not active yet, whom a flow (an invitation being accepted) expects: active in
            # memory only, so that mozilla-django-oidc goes on; the callback hands them to that flow.
            expected.is_active = True
            return [expected]
        user, refusal = sso.sso_user(email=claims["email"], partner_id=self.provider.partner_id)
        if user is None:
            self.request.sso_failure = refusal
            return User.objects.none()
        return User.objects.filter(pk=user.pk)

    def create_user(self, claims):
        return None  # people are invited; single sign-on never creates a portal user

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        # The subject of the userinfo answer must be the one the signed ID token names.
        if claims.get("sub") != payload.get("sub"):
            self.request.sso_failure = gettext("the provider's answers did not agree.")
            raise SuspiciousOperation("userinfo subject differs from the ID token's")
        return claims


class AccountSAMLBackend(_ActiveUserMixin, BaseBackend):
    """SAML 2.0 single sign-on (see accounts.saml): the assertion consumer service checks the answer and signs
    the person in naming this backend, which then loads them on each request. It authenticates nothing itself,
    so no call of `authenticate` can sign anyone in through it."""

    def authenticate(self, request, **kwargs):
        return None
