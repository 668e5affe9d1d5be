"""`Authorization: Bearer pp_…`: the API's only authentication. The portal's pages keep their own sessions; the
API takes no session cookie, so no CSRF token is needed and a browser's session cannot call it."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.errors import API_TOKEN_REFUSED
from accounts.services.api_tokens import api_token_authenticate
from core.clients import client_ip


class ApiTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Send the token as: Authorization: Bearer <token>."))
        token = api_token_authenticate(raw=parts[1].decode("ascii", errors="replace"),
                                       ip_address=client_ip(request._request))
        if token is None:
            raise exceptions.AuthenticationFailed(API_TOKEN_REFUSED)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenScope(BasePermission):
    """A signed-in token; reading needs any scope, anything else a token with the write scope."""

    message = _("This token may only read: make a token with the write scope to change anything.")

    def has_permission(self, request, view) -> bool:
        token = getattr(request, "auth", None)
        if token is None or not request.user or not request.user.is_authenticated:
            return False
        return request.method in SAFE_METHODS or token.can_write


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document names the authentication: an HTTP bearer token."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API token made on the portal's Security page: `Authorization: Bearer pp_…`."}
