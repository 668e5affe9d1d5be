"""Email address normalisation: one rule for users, directory addresses, requests and lookups.

Addresses are compared case-insensitively and stored normalised, with the spelling people used
kept beside them for display (R7: only a primary address signs in, whatever its case). The local
part is NFC-normalised and case-folded, the domain is converted to its IDNA (punycode)
ASCII form and lower-cased, so that `Ünïcode@Exämple.test`, its NFD spelling and
`ünïcode@xn--exmple-cua.test` are one address.
"""

import functools
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.errors import PortalError


class InvalidEmail(PortalError, ValueError):
    """The text is not an email address."""


# Characters never allowed unquoted in a local part (RFC 5322 specials, space, controls).
_BAD_LOCAL = re.compile(r'[\s@<>()\[\],;:"\\\x00-\x1f\x7f]')


@functools.lru_cache(maxsize=4096)
def _normalize_domain(domain: str) -> str:
    """IDNA (punycode) and lower case; cached, since a directory's addresses share few domains."""
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidEmail("invalid domain") from exc
    try:
        validate_email(f"postmaster@{ascii_domain}")
    except ValidationError as exc:
        raise InvalidEmail("invalid domain") from exc
    return ascii_domain


def normalize_email(address: str) -> str:
    """Return the normalised form of an address, or raise InvalidEmail."""
    if not isinstance(address, str):
        raise InvalidEmail("An email address must be text.")
    text = address.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidEmail(f"{address!r} is not an email address.")
    try:
        ascii_domain = _normalize_domain(domain)
    except InvalidEmail as exc:
        raise InvalidEmail(f"{address!r} has an invalid domain.") from exc
    # Django's validator accepts only ASCII local parts; directories hold internationalised
    # ones (RFC 6531), so the local part gets a structural check and the domain Django's.
    if (
        len(local) > 64
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or _BAD_LOCAL.search(local)
        or (not local.isascii() and any(unicodedata.category(ch)[0] == "C" for ch in local))
    ):
        raise InvalidEmail(f"{address!r} is not a valid email address.")
    normalised = f"{local.lower()}@{ascii_domain}"
    if len(normalised) > 254:
        raise InvalidEmail(f"{address!r} is too long for an email address.")
    return normalised


def domain_of(address: str) -> str:
    """The normalised domain of a normalised address."""
    return address.rpartition("@")[2]
