"""Encryption of secrets at rest (LDAP bind passwords, OIDC client secrets) with Fernet.

Fernet (AES-128-CBC + HMAC-SHA256, from the `cryptography` package) authenticates what it
decrypts, so a tampered value fails loudly instead of yielding garbage. FIELD_ENCRYPTION_KEY
may list several keys: the first encrypts, all decrypt, which lets operators rotate keys without
downtime (put the new key first; a value is re-encrypted with it whenever it is saved).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from core.errors import PortalError


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated."
        ) from exc


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_reset)


class DecryptionError(PortalError):
    """A stored secret could not be decrypted with any configured key."""


def encrypt(plaintext: str) -> str:
    """Encrypt text with the first configured key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt text encrypted with any configured key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored secret could not be decrypted: check FIELD_ENCRYPTION_KEY.") from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored value with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored secret could not be decrypted: check FIELD_ENCRYPTION_KEY.") from exc
