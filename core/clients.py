"""Who the client is behind the portal's reverse proxies: the address sign-in throttles and audits.

Behind a proxy, REMOTE_ADDR is the proxy, the same for everyone. Each trusted proxy appends the
address it was reached from to X-Forwarded-For, so with TRUSTED_PROXY_COUNT proxies the client is
the entry that many places from the right; everything to its left was written by the client and
may be anything (Werkzeug's ProxyFix reads it the same way). With no trusted proxy the header is
ignored: on the embedded server any client could claim any address with it.

It is django-axes' AXES_CLIENT_IP_CALLABLE. It depends on settings and the standard library only,
so that the audit trail (core) can use the same rule.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address: REMOTE_ADDR, or the address the outermost trusted proxy was reached from."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        # Not through all the trusted proxies (someone reached the server directly): the peer is all we know.
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote
