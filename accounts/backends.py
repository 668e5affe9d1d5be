"""The three ways to prove who you are: a cloud password, a domain password, single sign-on.

Each backend answers only for the people of accounts that use its method and returns None for
everyone else, so `django.contrib.auth.authenticate` finds the right one (axes runs first and
refuses locked-out addresses). Every refusal looks the same from outside.
"""

import logging
import os
import tempfile
import uuid

import ldap
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import LDAPSearch, LDAPSettings
from ldap.filter import escape_filter_chars
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts import errors, sso
from accounts.selectors import may_use_cloud_password, signin_route, signin_user, user_auth_method
from directory_sync.mapping import DEFAULT_FILTERS, resolve_mapping
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.sources import ldap as ldap_source
from partners.models import AuthMethod

logger = logging.getLogger(__name__)
User = get_user_model()


class _ActiveUserMixin:
    def get_user(self, user_id):
        user = User.objects.filter(pk=user_id, is_active=True).first()
        return user


class CloudPasswordBackend(_ActiveUserMixin, ModelBackend):
    """A password the portal stores (Argon2), for accounts that use cloud passwords."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = signin_user(email=username)
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

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or not password:
            return None
        user = signin_user(email=username)
        if user is None:
            self._probe_for(username)
            return None
        if user_auth_method(user) != AuthMethod.DOMAIN_PASSWORD:
            return None
        connection = getattr(user.partner, "directory_connection", None)
        person = user.directory_user
        if connection is None or connection.kind != SourceKind.LDAP or person is None:
            logger.warning("domain sign-in of %s impossible: no LDAP connection or directory person", user.pk)
            return None
        self._portal_user = user
        ca_path = None
        failures: list[Exception] = []

        def record(sender, exception, **kwargs):
            failures.append(exception)

        try:
            options = {ldap.OPT_REFERRALS: 0, ldap.OPT_NETWORK_TIMEOUT: 5, ldap.OPT_TIMEOUT: 10}
            if connection.ca_certificate.strip():
                fd, ca_path = tempfile.mkstemp(suffix=".pem")
                with os.fdopen(fd, "w") as fh:
                    fh.write(connection.ca_certificate)
                options[ldap.OPT_X_TLS_CACERTFILE] = ca_path
            if connection.start_tls or connection.uri.lower().startswith("ldaps://"):
                options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
                options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above
            mapping = resolve_mapping(preset=connection.preset, overrides=connection.attribute_overrides)
            user_filter = connection.user_filter or DEFAULT_FILTERS[connection.preset]
            self.settings = LDAPSettings(self.settings_prefix, {
                "SERVER_URI": connection.uri,
                "START_TLS": connection.start_tls and connection.uri.lower().startswith("ldap://"),
                "BIND_DN": connection.bind_dn,
                "BIND_PASSWORD": connection.bind_password,
                "CONNECTION_OPTIONS": options,
                "USER_SEARCH": LDAPSearch(
                    connection.base_dn, ldap.SCOPE_SUBTREE,
                    f"(&{user_filter}({mapping['id']}={_escaped_id(mapping['id'], person.external_id)}))",
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
        finally:
            if ca_path:
                os.unlink(ca_path)
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
        connection = DirectoryConnection.objects.filter(partner_id=route.partner_id, kind=SourceKind.LDAP).first()
        if connection is None:
            return
        try:
            with ldap_source.connect(connection):
                pass
        except ldap_source.DirectoryUnavailable as exc:
            raise errors.DirectoryUnreachable(str(exc)) from exc
        except ldap_source.DirectoryError:
            logger.warning("directory of partner %s refused the service bind", route.partner_id)


def _escaped_id(attribute: str, external_id: str) -> str:
    """The stable id as it appears in a filter: objectGUID is raw bytes, escaped byte by byte."""
    if attribute.lower() == "objectguid":
        return "".join(f"\\{byte:02x}" for byte in uuid.UUID(external_id).bytes_le)
    return escape_filter_chars(external_id)


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
            self.request.sso_failure = "the provider's token was not issued for this portal."
            raise SuspiciousOperation("ID token issuer or audience mismatch")
        if len(audiences) > 1 and payload.get("azp") != self.provider.client_id:
            self.request.sso_failure = "the provider's token was not issued for this portal."
            raise SuspiciousOperation("ID token authorized party mismatch")
        return payload

    def verify_claims(self, claims):
        # The email claim must be there and verified by the provider (an unverified address could
        # be anyone's), and it must be a primary address on this account (checked below).
        self.request.sso_claimed_email = claims.get("email") or ""
        if not claims.get("email"):
            self.request.sso_failure = "your provider did not share your email address."
            return False
        if claims.get("email_verified") not in (True, "true"):
            self.request.sso_failure = "your provider has not verified your email address."
            return False
        return True

    def filter_users_by_claims(self, claims):
        expected = sso.expected_user(self.request, email=claims["email"], partner_id=self.provider.partner_id)
        if expected is not None:
            # A person not active yet, whom a flow (an invitation being accepted) expects: active in
            # memory only, so that mozilla-django-oidc goes on; the callback hands them to that flow.
            expected.is_active = True
            return [expected]
        user = signin_user(email=claims["email"])
        if user is None or user.partner_id != self.provider.partner_id:
            self.request.sso_failure = (
                "your address is not the primary address of a portal user of this account. "
                "Aliases and forwarding addresses cannot sign in."
            )
            return User.objects.none()
        if user_auth_method(user) != AuthMethod.SSO:
            self.request.sso_failure = "your account does not use single sign-on."
            return User.objects.none()
        return User.objects.filter(pk=user.pk)

    def create_user(self, claims):
        return None  # people are invited; single sign-on never creates a portal user

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        # The subject of the userinfo answer must be the one the signed ID token names.
        if claims.get("sub") != payload.get("sub"):
            self.request.sso_failure = "the provider's answers did not agree."
            raise SuspiciousOperation("userinfo subject differs from the ID token's")
        return claims

