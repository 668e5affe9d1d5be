"""Single sign-on with SAML 2.0, configured per account (pysaml2; signatures and decryption through xmlsec1).

The portal is one service provider per account: its own entity ID, assertion consumer service (ACS) and key
pair (partners.services.saml). Only sign-ins the portal started are accepted (SP-initiated): the AuthnRequest's
ID is kept in the cache with its account, and in the session of the browser that asked. The identity
provider's answer arrives as a cross-site POST, which carries no session cookie (SameSite=Lax), so the ACS
checks it against the cached request alone, keeps the verified address under a one-time token and sends the
browser on to a GET (`accounts:saml_done`), where the session must hold the same request ID.

Every check pysaml2 leaves out or leaves lax is made here as well: the issuer is the configured provider
(metadata may describe several), every audience restriction names this account, Destination and Recipient are
this account's ACS, the assertion itself (not only the Response around it) answers the request, one assertion
only, no document type declaration, and an assertion is never used twice.
"""

import base64
import binascii
import calendar
import contextlib
import dataclasses
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import StatusError, UnsolicitedResponse
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED, SCM_BEARER
from saml2.sigver import SigverError
from saml2.time_util import str_to_time
from saml2.validate import ResponseLifetimeExceed, ToEarly
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from partners.models import AccountSettings, AuthMethod
from partners.selectors import SamlServiceProvider, saml_service_provider
from partners.services.saml import IdentityProvider, SamlMetadataInvalid, saml_idp_metadata_check, saml_sp_keys_ensure

logger = logging.getLogger(__name__)

SESSION_REQUESTS = "saml_requests"  # the IDs of the AuthnRequests this browser is waiting for, newest last
SESSION_REQUESTS_KEPT = 5  # sign-ins started in several tabs at once; an older one is forgotten
ANSWER_SECONDS = 2 * 60  # from the ACS to the GET that follows it: one redirect
ASSERTION_SECONDS_MIN = 5 * 60  # an assertion ID is remembered at least this long, even with a short lifetime

# Why an answer was refused: the end of "Single sign-on did not sign you in: …".
INVALID = _("the answer from your identity provider could not be checked. Please start again.")
UNSIGNED = _("the answer from your identity provider was not signed as this account requires.")
UNSOLICITED = _("the portal did not ask for this answer, or waited too long for it. Please start again.")
REPLAYED = _("this answer was already used. Please start again.")
OTHER_ACCOUNT = _("this answer was meant for another account.")
WRONG_AUDIENCE = _("the answer was not issued for this portal.")
WRONG_RECIPIENT = _("the answer was addressed to another place.")
WRONG_ISSUER = _("the answer came from another identity provider than this account's.")
EXPIRED = _("the answer from your identity provider has expired. Please start again.")
NOT_CONFIRMED = _("your identity provider did not confirm who you are.")
NO_EMAIL = _("your identity provider did not share your email address.")
OTHER_BROWSER = _("this answer belongs to a sign-in started in another browser. Please start again.")


class SamlRefused(Exception):
    """An answer that does not sign anyone in: `reason` for the person, `detail` for the log (English)."""

    def __init__(self, reason, detail: str = ""):
        super().__init__(detail or str(reason))
        self.reason = reason
        self.detail = detail or str(reason)


@dataclasses.dataclass(frozen=True)
class Verified:
    """What a checked answer vouches for."""

    partner_id: int
    request_id: str
    session: str  # a hash of the session key of the browser that sent the request
    email: str


@dataclasses.dataclass(frozen=True)
class ServiceProvider:
    client: Saml2Client
    idp: IdentityProvider
    sp: SamlServiceProvider


@contextlib.contextmanager
def service_provider(account: AccountSettings) -> Iterator[ServiceProvider]:
    """pysaml2's client for an account, its key in a private temporary directory while it is used (xmlsec1
    reads keys from files only)."""
    account = saml_sp_keys_ensure(account=account)
    idp = saml_idp_metadata_check(xml=account.saml_idp_metadata_xml, entity_id=account.saml_idp_entity_id)
    sp = saml_service_provider(account.partner)
    with tempfile.TemporaryDirectory(prefix="portal-saml-") as folder:  # mode 0700
        key_file, cert_file = os.path.join(folder, "sp.key"), os.path.join(folder, "sp.crt")
        for path, content in ((key_file, account.saml_sp_private_key), (cert_file, account.saml_sp_certificate)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
                file.write(content)
        config = SPConfig()
        config.load({
            "entityid": sp.entity_id,
            "xmlsec_binary": settings.SAML_XMLSEC_BINARY,
            "key_file": key_file,
            "cert_file": cert_file,
            "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
            "metadata": {"inline": [account.saml_idp_metadata_xml]},
            "accepted_time_diff": settings.SAML_CLOCK_SKEW_SECONDS,
            "allow_unknown_attributes": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(sp.acs_url, BINDING_HTTP_POST)]},
                "allow_unsolicited": False,
                "authn_requests_signed": True,
                "want_response_signed": False,
                "want_assertions_signed": account.saml_want_assertions_signed,
                # Never nothing signed: without a signed assertion, the response as a whole must be.
                "want_assertions_or_response_signed": True,
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "name_id_policy_format": None if account.saml_email_attribute else NAMEID_FORMAT_EMAILADDRESS,
                "name_id_format_allow_create": False,
            }},
        })
        yield ServiceProvider(client=Saml2Client(config), idp=idp, sp=sp)


def metadata_xml(account: AccountSettings) -> str:
    """The portal's SAML metadata for an account: entity ID, ACS, and its certificate for signing and
    encryption. Without the identity provider's metadata yet (an admin setting up), it is made all the same."""
    account = saml_sp_keys_ensure(account=account)
    sp = saml_service_provider(account.partner)
    with tempfile.TemporaryDirectory(prefix="portal-saml-") as folder:
        cert_file = os.path.join(folder, "sp.crt")
        with open(cert_file, "w") as file:
            file.write(account.saml_sp_certificate)
        config = SPConfig()
        config.load({
            "entityid": sp.entity_id,
            "xmlsec_binary": settings.SAML_XMLSEC_BINARY,
            "cert_file": cert_file,
            "encryption_keypairs": [{"cert_file": cert_file}],
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(sp.acs_url, BINDING_HTTP_POST)]},
                "authn_requests_signed": True,
                "want_assertions_signed": account.saml_want_assertions_signed,
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            }},
        })
        return str(entity_descriptor(config))


def _request_key(request_id: str) -> str:
    # Hashed: the ID comes from the answer, unchecked, and may be of any length or character.
    return f"saml-request:{_digest(request_id)}"


def _used_key(request_id: str) -> str:
    return f"saml-request-used:{_digest(request_id)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()


def _same(value: str, expected: str) -> bool:
    """A comparison in constant time of two strings of any characters (compare_digest takes ASCII strings only)."""
    return secrets.compare_digest(value.encode(errors="surrogatepass"), expected.encode(errors="surrogatepass"))


def _session_hash(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
    return hashlib.sha256(request.session.session_key.encode()).hexdigest()


def authn_request_url(request: HttpRequest, *, account: AccountSettings) -> str:
    """A fresh, signed AuthnRequest for the account's identity provider (HTTP-Redirect binding): the address to
    send the browser to. The request is recorded for the ACS (cache) and for this browser (session)."""
    if account.auth_method != AuthMethod.SSO:
        raise SamlMetadataInvalid("single sign-on is not this account's sign-in method")
    relay_state = secrets.token_urlsafe(24)  # opaque: never an address to go to
    with service_provider(account) as provider:
        request_id, info = provider.client.prepare_for_authenticate(
            entityid=provider.idp.entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
            sign=True, sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
        )
    cache.set(_request_key(request_id), {"partner": account.partner_id, "relay_state": relay_state,
                                         "session": _session_hash(request)}, settings.SAML_REQUEST_SECONDS)
    waiting = [known for known in request.session.get(SESSION_REQUESTS, []) if known != request_id]
    request.session[SESSION_REQUESTS] = [*waiting, request_id][-SESSION_REQUESTS_KEPT:]
    return dict(info["headers"])["Location"]


def answer_check(*, account: AccountSettings, saml_response: str, relay_state: str) -> Verified:
    """The address an identity provider's answer (the ACS's POST) vouches for, or SamlRefused.

    The request it answers is used up here, so an answer works once."""
    unverified = _unverified(saml_response)
    request_id = unverified.in_response_to or ""
    outstanding = cache.get(_request_key(request_id)) if request_id else None
    if outstanding is None:
        if request_id and cache.get(_used_key(request_id)):
            raise SamlRefused(REPLAYED, f"request {request_id} was already answered")
        raise SamlRefused(UNSOLICITED, f"unknown or expired InResponseTo {request_id[:80]!r}")
    if outstanding["partner"] != account.partner_id:
        raise SamlRefused(OTHER_ACCOUNT, f"request {request_id} belongs to partner {outstanding['partner']}")
    if not _same(relay_state, outstanding["relay_state"]):
        raise SamlRefused(INVALID, f"RelayState of request {request_id} differs")
    try:
        with service_provider(account) as provider:
            response = provider.client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding={request_id: relay_state},
                conv_info={"entity_id": provider.sp.acs_url},  # pysaml2 checks Recipient only with this
            )
            idp, sp = provider.idp, provider.sp
    except SamlMetadataInvalid as exc:
        raise SamlRefused(INVALID, f"metadata unusable: {exc}") from exc
    except Exception as exc:  # pysaml2 raises many types, bare Exception among them
        reason = _reason_for(exc) or _reason_seen(unverified, sp=saml_service_provider(account.partner))
        # Only the type: pysaml2's messages quote the whole document, with the person's address and attributes.
        raise SamlRefused(reason, f"pysaml2 refused it: {type(exc).__name__} ({_english(reason)})") from exc
    if response is None or response.assertion is None:
        # pysaml2 says None, not why (a Destination elsewhere, for one).
        reason = _reason_seen(unverified, sp=sp)
        raise SamlRefused(reason, f"pysaml2 returned no response or assertion ({reason})")
    _answer_require_mine(response, idp=idp, sp=sp, request_id=request_id)
    email = _email_of(response, attribute=account.saml_email_attribute)
    # Used up: of two posts of one answer at the same moment, only one deletes the record.
    if not cache.delete(_request_key(request_id)):
        raise SamlRefused(REPLAYED, f"request {request_id} was answered meanwhile")
    cache.set(_used_key(request_id), True, settings.SAML_REQUEST_SECONDS)
    assertion_first_use(partner_id=account.partner_id, assertion=response.assertion)
    return Verified(partner_id=account.partner_id, request_id=request_id, session=outstanding["session"], email=email)


def assertion_first_use(*, partner_id: int, assertion) -> None:
    """Refuse an assertion seen before: its ID is remembered until it expires (and a little longer)."""
    expires = _not_on_or_after(assertion)
    now = int(time.time())
    seconds = max(expires - now + settings.SAML_CLOCK_SKEW_SECONDS, ASSERTION_SECONDS_MIN) if expires else 86400
    if not cache.add(f"saml-assertion:{partner_id}:{assertion.id}", True, seconds):
        raise SamlRefused(REPLAYED, f"assertion {assertion.id} was already used")


def answer_store(verified: Verified | None = None, *, reason=None) -> str:
    """Keep the ACS's result for the GET that follows it; the one-time token for that GET."""
    token = secrets.token_urlsafe(32)
    cache.set(f"saml-answer:{token}", {
        "verified": dataclasses.asdict(verified) if verified else None, "reason": str(reason) if reason else "",
    }, ANSWER_SECONDS)
    return token


def answer_take(token: str) -> tuple[Verified | None, str] | None:
    """The ACS's result kept under `token` (once): (verified, "") or (None, reason); None when there is none."""
    key = f"saml-answer:{token}"
    answer = cache.get(key)
    if answer is None or not cache.delete(key):
        return None
    return (Verified(**answer["verified"]) if answer["verified"] else None), answer["reason"]


def session_request_matches(request: HttpRequest, verified: Verified) -> bool:
    """Whether this browser is the one that sent the request the answer is for (used once): its session holds
    the request's ID among its last SESSION_REQUESTS_KEPT (sign-ins started in other tabs stay open), and is the
    session the request was recorded with."""
    waiting = request.session.get(SESSION_REQUESTS, [])
    if not any(_same(request_id, verified.request_id) for request_id in waiting):
        return False
    request.session[SESSION_REQUESTS] = [request_id for request_id in waiting if request_id != verified.request_id]
    return _same(_session_hash(request), verified.session)


def _unverified(saml_response: str):
    """The answer as it reads before any check: its InResponseTo only looks the request up, and the rest only
    chooses what a refusal says.

    A document type declaration is refused here, before pysaml2 and xmlsec1 see the answer: SAML has no use for
    one, and an internal subset can declare ID attributes that change what a signature's reference points to."""
    try:
        xml = base64.b64decode(saml_response, validate=False)
        defusedxml.ElementTree.fromstring(xml, forbid_dtd=True)
        response = samlp.response_from_string(xml)
    except (binascii.Error, ValueError, TypeError, SyntaxError) as exc:
        raise SamlRefused(INVALID, f"not a SAML response: {type(exc).__name__}") from exc
    except DefusedXmlException as exc:
        raise SamlRefused(INVALID, f"refused XML: {type(exc).__name__}") from exc
    except Exception as exc:  # the XML parser's errors and pysaml2's own
        raise SamlRefused(INVALID, f"not a SAML response: {type(exc).__name__}") from exc
    if response is None:
        raise SamlRefused(INVALID, "not a SAML response")
    return response


def _reason_for(exc: Exception):
    """The person's reason for a pysaml2 refusal, where its type tells; else None."""
    if isinstance(exc, StatusError):
        return NOT_CONFIRMED
    if isinstance(exc, SigverError):
        return UNSIGNED
    if isinstance(exc, (ResponseLifetimeExceed, ToEarly)):
        return EXPIRED
    if isinstance(exc, UnsolicitedResponse):
        return UNSOLICITED
    return None


def _reason_seen(unverified, *, sp: SamlServiceProvider):
    """What a refusal says when pysaml2 does not tell why (a bare Exception, a VerificationError, or None): read
    from the unverified answer, so it only ever chooses the message of an answer refused anyway."""
    now = time.time()
    for assertion in unverified.assertion:  # an encrypted assertion cannot be read here: INVALID then
        if 0 < _not_on_or_after(assertion) < now - settings.SAML_CLOCK_SKEW_SECONDS:
            return EXPIRED
        audiences = [(audience.text or "").strip() for restriction in
                     (assertion.conditions.audience_restriction if assertion.conditions else [])
                     for audience in restriction.audience]
        if audiences and sp.entity_id not in audiences:
            return WRONG_AUDIENCE
    if unverified.destination and unverified.destination != sp.acs_url:
        return WRONG_RECIPIENT
    return INVALID


def _answer_require_mine(response, *, idp: IdentityProvider, sp: SamlServiceProvider, request_id: str) -> None:
    """The checks beyond pysaml2's: one assertion, issued by this account's provider for this account, in answer
    to `request_id`.

    The request is checked in the assertion, not only in the Response around it: that one is often unsigned,
    and pysaml2 compares the assertion's SubjectConfirmationData/@InResponseTo only for a plaintext assertion.
    Without this an encrypted assertion issued for one browser's request could be wrapped in a Response naming
    another's request, and sign in there."""
    if len(response.assertions) != 1:
        raise SamlRefused(INVALID, f"{len(response.assertions)} assertions")
    assertion = response.assertion
    issuers = {response.issuer(), (assertion.issuer.text or "").strip() if assertion.issuer else ""}
    if issuers - {""} != {idp.entity_id} or not (assertion.issuer and assertion.issuer.text):
        raise SamlRefused(WRONG_ISSUER, f"issuers {sorted(issuers)}, expected {idp.entity_id}")
    if response.response.destination != sp.acs_url:
        raise SamlRefused(WRONG_RECIPIENT, f"Destination {response.response.destination!r}")
    restrictions = assertion.conditions.audience_restriction if assertion.conditions else []
    audiences = [[(audience.text or "").strip() for audience in restriction.audience] for restriction in restrictions]
    if not audiences or any(sp.entity_id not in named for named in audiences):
        # pysaml2 accepts an assertion without any audience restriction, and one where any restriction names
        # this portal; several restrictions all apply (SAML core 2.5.1.4), so each must name this account.
        raise SamlRefused(WRONG_AUDIENCE, f"audiences {audiences}")
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    if not confirmations:
        raise SamlRefused(NOT_CONFIRMED, "no SubjectConfirmation")
    for confirmation in confirmations:
        data = confirmation.subject_confirmation_data
        if confirmation.method != SCM_BEARER or data is None:
            raise SamlRefused(INVALID, f"SubjectConfirmation method {confirmation.method!r}")
        if data.recipient != sp.acs_url:
            raise SamlRefused(WRONG_RECIPIENT, f"Recipient {data.recipient!r}")
        if not data.in_response_to or not secrets.compare_digest(data.in_response_to.encode(), request_id.encode()):
            raise SamlRefused(UNSOLICITED, f"SubjectConfirmationData/@InResponseTo {data.in_response_to!r}")

def _email_of(response, *, attribute: str) -> str:
    """The address the assertion names: the configured attribute (by Name or FriendlyName), else the NameID
    when its format is an email address (or unspecified)."""
    assertion = response.assertion
    if attribute:
        for statement in assertion.attribute_statement:
            for item in statement.attribute:
                if attribute in (item.name, item.friendly_name):
                    values = [(value.text or "").strip() for value in item.attribute_value]
                    if values and values[0]:
                        return values[0]
        raise SamlRefused(NO_EMAIL, f"no attribute {attribute!r}")
    name_id = response.name_id
    if name_id is None or name_id.format not in (None, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED):
        raise SamlRefused(NO_EMAIL, f"NameID format {getattr(name_id, 'format', None)!r}")
    if not (name_id.text or "").strip():
        raise SamlRefused(NO_EMAIL, "empty NameID")
    return name_id.text.strip()


def _not_on_or_after(assertion) -> int:
    """When the assertion expires (the earliest of its conditions and bearer confirmations), or 0.

    A time that does not parse is left out: of an unverified answer it only chooses a refusal's message, and a
    verified one has passed pysaml2's own reading of its times."""
    times = [assertion.conditions.not_on_or_after] if assertion.conditions else []
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    times += [c.subject_confirmation_data.not_on_or_after for c in confirmations if c.subject_confirmation_data]
    stamps = []
    for value in filter(None, times):
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            stamps.append(calendar.timegm(str_to_time(value)))
    return min(stamps) if stamps else 0


def _english(reason) -> str:
    """A reason as the log has it: in English, whatever language the request is answered in."""
    with translation.override(None):
        return str(reason)
