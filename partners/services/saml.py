"""SAML 2.0 per account: the portal's own key pair for an account, and its identity provider's metadata
(checked before it is stored, fetched from its URL when the admin saves and again every day)."""

import datetime
import logging
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from saml2 import BINDING_HTTP_REDIRECT
from saml2.attribute_converter import ac_factory
from saml2.mdstore import InMemoryMetaData

from core.audit import audit_record
from core.errors import PortalError
from partners.models import AccountSettings, AuthMethod, SsoProtocol
from partners.selectors import saml_service_provider
from partners.webhooks import (
    NOT_HTTPS,
    NOT_PUBLIC,
    UNRESOLVED,
    WebhookUrlRefused,
    loopback_http_allowed,
    outbound_session,
    url_refusal,
)

logger = logging.getLogger(__name__)

KEY_BITS = 3072
CERTIFICATE_DAYS = 3652  # about ten years: the certificate's dates are not what makes the key trusted

METADATA_NOT_XML = _("This is not SAML metadata: the file could not be read as XML.")
METADATA_NO_IDP = _("This metadata describes no identity provider (no IDPSSODescriptor).")
METADATA_EXPIRED = _("This metadata has expired (its validUntil date has passed): get a current copy.")
METADATA_SEVERAL_IDPS = _(
    "This metadata describes several identity providers: enter the entity ID of the one to use."
)
METADATA_ENTITY_MISSING = _("This metadata has no identity provider with the entity ID {entity_id}.")
METADATA_NO_REDIRECT = _("The identity provider offers no single sign-on address for the HTTP-Redirect binding.")
METADATA_NO_CERTIFICATE = _("The identity provider's metadata has no signing certificate.")
METADATA_FETCH_FAILED = _("The metadata could not be fetched from {url}: {reason}")
METADATA_HTTPS_ONLY = _("The metadata URL must start with https://.")
METADATA_TOO_LARGE = _("The metadata is larger than {size} MB.")
METADATA_NOT_PUBLIC = _(
    "The metadata URL, or an address it redirects to, is not on the public internet: the portal does not fetch "
    "metadata from there."
)
METADATA_UNRESOLVED = _("The host name of the metadata URL, or of an address it redirects to, could not be resolved.")
METADATA_REDIRECT_NOT_HTTPS = _("The metadata URL redirects to an address that does not start with https://.")
METADATA_TOO_MANY_REDIRECTS = _("The metadata URL redirects more than {count} times.")
METADATA_TOO_SLOW = _("The metadata server did not send the metadata within {seconds} seconds.")

METADATA_REDIRECTS_MAX = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class SamlMetadataInvalid(PortalError):
    """Identity provider metadata that cannot be used; str() says why, for the admin."""


@dataclass(frozen=True)
class IdentityProvider:
    """What the portal uses of an identity provider's metadata."""

    entity_id: str
    sso_url: str  # HTTP-Redirect binding


def saml_idp_metadata_check(*, xml: str, entity_id: str = "") -> IdentityProvider:
    """The identity provider that `xml` describes (the one named `entity_id`, when it describes several), or
    SamlMetadataInvalid: the metadata must parse and name a provider with a redirect address and a signing
    certificate."""
    if len(xml.encode()) > settings.SAML_METADATA_MAX_BYTES:
        raise SamlMetadataInvalid(METADATA_TOO_LARGE.format(size=settings.SAML_METADATA_MAX_BYTES // 2**20))
    metadata = InMemoryMetaData(ac_factory(), metadata=xml)
    try:
        metadata.load()
    except Exception as exc:  # pysaml2 raises whatever its XML parser raised (ParseError, ValueError, ...)
        logger.info("SAML metadata refused: %s", exc)
        raise SamlMetadataInvalid(METADATA_NOT_XML) from exc
    providers = [name for name, entity in metadata.items() if entity.get("idpsso_descriptor")]
    entity_id = entity_id.strip()
    if metadata.to_old and (entity_id in metadata.to_old or not providers):
        raise SamlMetadataInvalid(METADATA_EXPIRED)  # pysaml2 leaves out an entity past its validUntil
    if entity_id:
        if entity_id not in providers:
            raise SamlMetadataInvalid(METADATA_ENTITY_MISSING.format(entity_id=entity_id))
    elif not providers:
        raise SamlMetadataInvalid(METADATA_NO_IDP)
    elif len(providers) > 1:
        raise SamlMetadataInvalid(METADATA_SEVERAL_IDPS)
    else:
        entity_id = providers[0]
    services = [
        service for descriptor in metadata[entity_id]["idpsso_descriptor"]
        for service in descriptor.get("single_sign_on_service", []) if service.get("binding") == BINDING_HTTP_REDIRECT
    ]
    if not services:
        raise SamlMetadataInvalid(METADATA_NO_REDIRECT)
    if not metadata.certs(entity_id, "idpsso", "signing"):
        raise SamlMetadataInvalid(METADATA_NO_CERTIFICATE)
    return IdentityProvider(entity_id=entity_id, sso_url=services[0]["location"])


def saml_idp_metadata_fetch(*, url: str) -> str:
    """The metadata published at `url`, or SamlMetadataInvalid.

    The URL is an admin's (of a partner account, maybe not the portal's own people), and the portal fetches it
    from inside its network, so it goes by the webhooks' rules against SSRF: https only (http only with
    SAML_METADATA_ALLOW_HTTP), to public addresses only (checked before and again at connecting, against DNS
    rebinding), at most METADATA_REDIRECTS_MAX redirects, each checked the same way. The whole fetch has
    SAML_METADATA_TIMEOUT seconds, however slowly the server sends (each read waits at most what is left), and
    at most SAML_METADATA_MAX_BYTES."""
    seconds = settings.SAML_METADATA_TIMEOUT
    deadline = time.monotonic() + seconds
    # Loopback only where tests or development allow it (a suite's identity provider runs there).
    loopback = bool(settings.SAML_METADATA_ALLOW_HTTP or loopback_http_allowed())
    address = url
    try:
        with outbound_session(loopback=loopback) as session:
            for hop in range(METADATA_REDIRECTS_MAX + 1):
                _metadata_url_check(address, loopback=loopback, redirected=hop > 0)
                with session.get(address, timeout=_time_left(deadline, seconds), stream=True,
                                 allow_redirects=False, headers={"Accept-Encoding": "identity"}) as answer:
                    if answer.status_code in REDIRECT_STATUSES and answer.headers.get("Location"):
                        address = urljoin(address, answer.headers["Location"])
                        continue
                    answer.raise_for_status()
                    body = _body_read(answer, deadline=deadline, seconds=seconds)
                    break
            else:
                raise SamlMetadataInvalid(METADATA_TOO_MANY_REDIRECTS.format(count=METADATA_REDIRECTS_MAX))
    except WebhookUrlRefused as exc:  # the address a connection reached (the peer check inside urllib3)
        raise SamlMetadataInvalid(METADATA_NOT_PUBLIC) from exc
    except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise SamlMetadataInvalid(METADATA_TOO_SLOW.format(seconds=seconds)) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        # The body is read from urllib3 directly (_body_read): its errors are not requests'.
        raise SamlMetadataInvalid(METADATA_FETCH_FAILED.format(url=url, reason=type(exc).__name__)) from exc
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SamlMetadataInvalid(METADATA_NOT_XML) from exc


def _metadata_url_check(url: str, *, loopback: bool, redirected: bool) -> None:
    """SamlMetadataInvalid for a URL the fetch must not go to. Plain http needs SAML_METADATA_ALLOW_HTTP, even to
    loopback (which url_refusal lets webhooks reach where loopback is allowed)."""
    http = settings.SAML_METADATA_ALLOW_HTTP
    if not url.lower().startswith("https://") and not (http and url.lower().startswith("http://")):
        refusal = NOT_HTTPS
    else:
        refusal = url_refusal(url, loopback=loopback, http_anywhere=http)
    if refusal == NOT_HTTPS:
        raise SamlMetadataInvalid(METADATA_REDIRECT_NOT_HTTPS if redirected else METADATA_HTTPS_ONLY)
    if refusal == UNRESOLVED:
        raise SamlMetadataInvalid(METADATA_UNRESOLVED)
    if refusal == NOT_PUBLIC:
        raise SamlMetadataInvalid(METADATA_NOT_PUBLIC)


def _time_left(deadline: float, seconds: int) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise SamlMetadataInvalid(METADATA_TOO_SLOW.format(seconds=seconds))
    return left


def _body_read(answer: requests.Response, *, deadline: float, seconds: int) -> bytes:
    """The body, read as it comes (one socket read at a time, each waiting at most the time left), within the
    deadline and the size cap. Raw bytes: compressed metadata is not asked for, and is not XML when sent."""
    limit = settings.SAML_METADATA_MAX_BYTES
    body = bytearray()
    while True:
        sock = getattr(getattr(answer.raw, "connection", None), "sock", None)
        left = _time_left(deadline, seconds)
        if sock is not None:
            sock.settimeout(left)
        chunk = answer.raw.read1(64 * 1024, decode_content=False)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise SamlMetadataInvalid(METADATA_TOO_LARGE.format(size=limit // 2**20))


def saml_metadata_refresh(*, account: AccountSettings) -> bool:
    """Fetch the metadata of an account's URL again and keep it when it is good and new; True when it changed.

    A failed fetch or bad metadata keeps the last good copy (sign-in goes on with it) and is logged."""
    url = account.saml_idp_metadata_url
    if not url:
        return False
    try:
        xml = saml_idp_metadata_fetch(url=url)
        saml_idp_metadata_check(xml=xml, entity_id=account.saml_idp_entity_id)
    except SamlMetadataInvalid as exc:
        logger.warning("SAML metadata of partner %s not refreshed from %s: %s", account.partner_id, url, exc)
        return False
    with transaction.atomic():
        account = AccountSettings.objects.select_for_update().get(pk=account.pk)
        if account.saml_idp_metadata_url != url or account.saml_idp_metadata_xml == xml:
            return False
        account.saml_idp_metadata_xml = xml
        account.save(update_fields=["saml_idp_metadata_xml", "updated_at"])
        audit_record(actor=None, action="saml.metadata_refreshed", target=account, partner_id=account.partner_id,
                     data={"url": url})
    return True


def saml_metadata_refresh_all() -> int:
    """The daily refresh of every SAML account that takes its identity provider's metadata from a URL."""
    accounts = AccountSettings.objects.filter(
        sso_protocol=SsoProtocol.SAML, auth_method=AuthMethod.SSO, partner__is_active=True,
    ).exclude(saml_idp_metadata_url="")
    return sum(saml_metadata_refresh(account=account) for account in accounts)


def saml_sp_keys_ensure(*, account: AccountSettings) -> AccountSettings:
    """The account with the portal's SAML key pair, generated and stored (key encrypted) the first time.

    The lock makes two first sign-ins at once agree on one key: a second key would make the metadata the
    identity provider already has wrong."""
    if account.saml_sp_private_key and account.saml_sp_certificate:
        return account
    with transaction.atomic():
        locked = AccountSettings.objects.select_for_update().select_related("partner").get(pk=account.pk)
        if not (locked.saml_sp_private_key and locked.saml_sp_certificate):
            key, certificate = _key_pair(common_name=saml_service_provider(locked.partner).entity_id)
            locked.saml_sp_private_key, locked.saml_sp_certificate = key, certificate
            locked.save(update_fields=["saml_sp_private_key", "saml_sp_certificate", "updated_at"])
            audit_record(actor=None, action="saml.sp_key_created", target=locked, partner_id=locked.partner_id)
    account.saml_sp_private_key, account.saml_sp_certificate = locked.saml_sp_private_key, locked.saml_sp_certificate
    return account


def _key_pair(*, common_name: str) -> tuple[str, str]:
    """A new RSA key (PEM, PKCS#8) and its self-signed certificate (PEM); SAML trusts it through metadata."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    # A common name is at most 64 characters; the entity ID is in the metadata anyway.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()
