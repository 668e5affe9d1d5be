"""Webhooks' plumbing and reads: signing a delivery, refusing addresses a delivery must not reach (SSRF), the
one HTTP call, and what the webhooks page shows. Writing (endpoints, deliveries, tries) is
partners.services.webhooks'. The SSRF guard (`url_refusal`, `outbound_session`) serves every request the portal
sends to an address a partner gave (SAML metadata too).

A delivery is a POST of JSON with the header `Portal-Signature: t=<unix time>,v1=<hex>`, the hex being the
HMAC-SHA256 of "<t>.<body>" under the endpoint's secret (Stripe's scheme): the receiver checks the signature and
that t is recent, so a captured delivery cannot be replayed later.
"""

import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from partners.errors import PartnerError
from partners.models import Partner, WebhookDelivery, WebhookEndpoint
from partners.selectors import agreement_partner_for

SIGNATURE_HEADER = "Portal-Signature"
TIMEOUT_SECONDS = (3.05, 10)  # connect, read: a slow receiver holds a worker this long at most
BODY_EXCERPT = 1000  # characters of a response kept with the delivery
RECENT_DELIVERIES = 10  # per endpoint, on the page

URL_NOT_HTTPS = _("Enter an https:// URL.")
URL_NOT_PUBLIC = _("This address is not on the public internet: deliveries cannot be sent there.")
URL_UNRESOLVED = _("The host name of this URL could not be resolved.")
REFUSED = "Refused"  # how a refused address begins a try's error: not worth another try
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Why url_refusal refuses a URL.
NOT_HTTPS, NOT_PUBLIC, UNRESOLVED = "not-https", "not-public", "unresolved"


class WebhookUrlRefused(PartnerError):
    status_code = 422


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

def webhook_body(payload: dict) -> bytes:
    """The delivery's body: compact JSON, the same bytes on every try."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The `Portal-Signature` header's value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# ---------------------------------------------------------------------------
# Where a delivery may go (SSRF)
# ---------------------------------------------------------------------------

def loopback_http_allowed() -> bool:
    """Whether requests may go to loopback (development and the tests)."""
    return bool(settings.DEBUG or getattr(settings, "WEBHOOK_ALLOW_LOOPBACK_HTTP", False))


def _address_allowed(address: str, *, loopback: bool | None = None) -> bool:
    """A public address; a loopback one too where `loopback` says so (by default where loopback HTTP is allowed:
    development and the tests)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if embedded is not None:
        # An IPv6 form that carries an IPv4 address reaches that address: judge the IPv4 one.
        ip = embedded
    if ip.is_loopback:
        return loopback_http_allowed() if loopback is None else loopback
    return ip.is_global and not ip.is_multicast


NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16), Teredo
    (the client's address), NAT64 (RFC 6052's well-known and local-use prefixes: the last 32 bits); else None."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def url_refusal(url: str, *, loopback: bool, http_anywhere: bool = False) -> str | None:
    """Why a request must not go to `url`, or None: NOT_HTTPS (not https — http only to a loopback host where
    `loopback`, or anywhere with `http_anywhere` —, or credentials in it), UNRESOLVED, or NOT_PUBLIC (a host that
    is or resolves to a private or link-local address, or loopback unless `loopback`): the portal's own network
    is no one's to probe."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port out of range, a malformed IPv6 address
        return NOT_HTTPS
    if not host or parts.username or parts.password:
        return NOT_HTTPS
    if parts.scheme != "https" and not (parts.scheme == "http" and (http_anywhere or (host in LOOPBACK_HOSTS
                                                                                      and loopback))):
        return NOT_HTTPS
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return UNRESOLVED
    if not infos or not all(_address_allowed(info[4][0], loopback=loopback) for info in infos):
        return NOT_PUBLIC
    return None


def webhook_url_check(url: str) -> str:
    """Refuse (WebhookUrlRefused) a URL a delivery must not go to (url_refusal; http only to loopback where
    allowed). Returns the URL."""
    refusal = url_refusal(url, loopback=loopback_http_allowed())
    if refusal is not None:
        raise WebhookUrlRefused({NOT_HTTPS: URL_NOT_HTTPS, UNRESOLVED: URL_UNRESOLVED,
                                 NOT_PUBLIC: URL_NOT_PUBLIC}[refusal])
    return url


class _PeerChecked:
    """Checks the address a connection reached, after connecting: a host name resolved again between the check
    and the connection (DNS rebinding) cannot lead a request into the portal's network. `loopback` as for
    _address_allowed; a refusal is a WebhookUrlRefused(URL_NOT_PUBLIC), whoever sent the request."""

    loopback: bool | None = None

    def _new_conn(self):
        sock = super()._new_conn()
        if not _address_allowed(sock.getpeername()[0], loopback=self.loopback):
            sock.close()
            raise WebhookUrlRefused(URL_NOT_PUBLIC)
        return sock


class _CheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def __init__(self, *args, loopback: bool | None = None, **kwargs):
        self.loopback = loopback  # before HTTPAdapter.__init__, which makes the pool manager
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _checked_pools(self.loopback)


@functools.cache
def _checked_pools(loopback: bool | None) -> dict:
    """The connection pools whose connections check their peer with this `loopback`."""
    if loopback is None:
        return {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}
    return {
        "http": type("_CheckedHTTPPool", (_CheckedHTTPPool,), {"ConnectionCls": type(
            "_CheckedHTTPConnection", (_CheckedHTTPConnection,), {"loopback": loopback})}),
        "https": type("_CheckedHTTPSPool", (_CheckedHTTPSPool,), {"ConnectionCls": type(
            "_CheckedHTTPSConnection", (_CheckedHTTPSConnection,), {"loopback": loopback})}),
    }


def outbound_session(*, loopback: bool | None = None) -> requests.Session:
    """A session for requests to addresses partners give: every connection checks the address it reached
    (_PeerChecked; `loopback` as for _address_allowed), and no proxy comes from the environment, so that the
    check sees the receiver. Check the URL first (url_refusal), and each redirect's too: follow none yourself."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", _CheckedAdapter(loopback=loopback))
    session.mount("https://", _CheckedAdapter(loopback=loopback))
    return session


@dataclasses.dataclass(frozen=True)
class PostResult:
    """What one try got: the response's status and the beginning of its body, or the error; how long it took."""

    status: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        """Worth another try: no answer (connection, timeout), or the receiver's own trouble (5xx, 429)."""
        if self.status is None:
            return not self.error.startswith(REFUSED)
        return self.status >= 500 or self.status == 429


# A whole try, however slowly the receiver answers (the socket timeouts count each read, not the total): the
# worker's soft limit ends it as a failed try (retried with backoff), the hard one kills it if that does not.
DELIVERY_LIMITS = {"soft_time_limit": 30, "time_limit": 45}
TOO_SLOW = "Timeout: the receiver took longer than 30 seconds in all"


def webhook_post(*, url: str, secret: str, payload: dict, event_id: str) -> PostResult:
    """POST one signed delivery; never raises for the receiver's or the network's trouble."""
    body = webhook_body(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "PartnerPortal-Webhooks/1",
               SIGNATURE_HEADER: webhook_signature(secret=secret, body=body,
                                                                timestamp=int(timezone.now().timestamp())),
               "Portal-Event": payload["type"], "Portal-Delivery": event_id}
    started = time.monotonic()
    with outbound_session() as session:
        try:
            webhook_url_check(url)
            response = session.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS,
                                    allow_redirects=False, stream=True)
            try:
                text = response.raw.read(BODY_EXCERPT * 4, decode_content=True).decode(errors="replace")
            finally:
                response.close()
        except WebhookUrlRefused as exc:  # raised by the check, or by the peer check from inside urllib3
            return PostResult(status=None, body="", error=f"{REFUSED}: {exc}", duration_ms=_since(started))
        except (requests.RequestException, OSError) as exc:
            return PostResult(status=None, body="", error=f"{exc.__class__.__name__}: {exc}"[:2000],
                              duration_ms=_since(started))
        except SoftTimeLimitExceeded:  # a receiver trickling its answer: the whole try is cut off (DELIVERY_LIMITS)
            return PostResult(status=None, body="", error=TOO_SLOW, duration_ms=_since(started))
    return PostResult(status=response.status_code, body=text[:BODY_EXCERPT], error="", duration_ms=_since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# ---------------------------------------------------------------------------
# Reads for the page
# ---------------------------------------------------------------------------

def webhook_partner_for(*, user, slug: str) -> Partner | None:
    """The partner whose webhooks this person may manage, or None (the page answers 404): the same people as its
    agreement page — its partner admins, its account manager and admins; never partner staff or other partners."""
    return agreement_partner_for(user=user, slug=slug)


def webhook_endpoints_with_recent(*, partner: Partner) -> list[WebhookEndpoint]:
    """The partner's endpoints, each with its latest deliveries as `recent`: two queries however many there are."""
    endpoints = list(WebhookEndpoint.objects.filter(partner=partner).order_by("created_at", "id"))
    recent = (
        WebhookDelivery.objects.filter(endpoint__partner=partner)
        .annotate(rank=Window(RowNumber(), partition_by=[F("endpoint_id")], order_by=[F("created_at").desc(),
                                                                                       F("id").desc()]))
        .filter(rank__lte=RECENT_DELIVERIES)
        .order_by("endpoint_id", "rank")
    ) if endpoints else []
    by_endpoint: dict[int, list[WebhookDelivery]] = {}
    for delivery in recent:
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery)
    for endpoint in endpoints:
        endpoint.recent = by_endpoint.get(endpoint.pk, [])
    return endpoints
