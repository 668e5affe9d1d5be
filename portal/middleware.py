"""HTTP hardening that applies to every page: the Content-Security-Policy's one exception, and no caching
of anything a signed-in person is shown.

Responses to signed-in people are never stored: a page a signed-in person saw (their partner's people,
the review queue, an agreement) must not come back from a shared or back-button cache once they have
signed out, or to the next person at the same computer. Anonymous pages (sign-in, static files, the
health probe) keep their own caching.
"""

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, without `form-action` on the pages named in SSO_HANDOFF_VIEWS.

    Browsers check form-action against every redirect a form post leads to. A form on those pages
    may end, through the portal's redirects, at a partner's single sign-on provider, which is not
    known when the page is drawn; under `form-action 'self'` the browser would stop there.
    """

    def get_policy_parts(self, request: HttpRequest, response: HttpResponse, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in settings.SSO_HANDOFF_VIEWS:
            parts.replace = {**(parts.replace or {}), "form-action": None}
        return parts


class NoStoreWhenSignedInMiddleware:
    """Mark every response to an authenticated request `Cache-Control: no-store` (as @never_cache does)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Asked after the view: a sign-in answers already signed in, a sign-out no longer.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
