"""Second factors at rest: an authenticator app whose key is encrypted, backup codes kept only as keyed hashes.

These are django-otp device plugins of their own (django-otp finds every `Device` subclass of an
installed app). They replace django-otp's otp_totp and otp_static models, which keep the TOTP key and
the backup codes in clear: a copy of the database (a backup, a replica, a leaked dump) would then
be enough to produce anyone's second factor. Here the key is encrypted with FIELD_ENCRYPTION_KEY
(core.fields.EncryptedTextField, Fernet), and a backup code is stored as an HMAC under SECRET_KEY,
so neither a copy of the database nor the field-encryption key alone gives a code away.

Verification keeps django-otp's semantics: TOTP with its tolerance and drift (django_otp.oath), a
code at or before the time step of the last accepted one is refused (no replay), a backup code
works once, and failures back off exponentially (ThrottlingMixin).
"""

import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from core.fields import EncryptedTextField

BACKUP_CODE_SALT = "accounts.BackupCode"


def random_totp_key() -> str:
    """A new TOTP key: 20 random bytes, hex-encoded (what authenticator apps expect, as in otp_totp)."""
    return random_hex(20)


def backup_code_hashes(*, user_id: int, code: str) -> list[str]:
    """The stored forms a backup code may have: its HMAC under SECRET_KEY, then under each fallback key.

    The person's id is part of the message, so equal codes of two people never share a hash; the
    fallbacks keep codes working while SECRET_KEY is rotated (Django's SECRET_KEY_FALLBACKS).
    """
    message = f"{user_id}:{code}"
    return [
        salted_hmac(BACKUP_CODE_SALT, message, secret=key, algorithm="sha256").hexdigest()
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


def backup_code_hash(*, user_id: int, code: str) -> str:
    """How a new backup code is stored (under the current SECRET_KEY)."""
    return backup_code_hashes(user_id=user_id, code=code)[0]


class TOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (TOTP, RFC 6238) with its key encrypted at rest.

    The fields and their meaning are otp_totp's: `step`, `t0`, `digits` and `tolerance` describe
    the codes, `drift` the app's clock, `last_t` the time step of the last code accepted.
    """

    # Its own reverse name: otp_totp's TOTPDevice (kept installed as the source of the data migration)
    # already takes `user.totpdevice_set`.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authenticator_apps",
        help_text=_("The user that this device belongs to."),
    )
    key = EncryptedTextField(default=random_totp_key, help_text=_("The hex-encoded key, encrypted."))
    step = models.PositiveSmallIntegerField(default=30, help_text=_("The time step in seconds."))
    t0 = models.BigIntegerField(default=0, help_text=_("The Unix time at which to begin counting steps."))
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text=_("The number of time steps in the past or future to allow.")
    )
    drift = models.SmallIntegerField(
        default=0, help_text=_("The number of time steps the app is known to deviate from our clock.")
    )
    last_t = models.BigIntegerField(
        default=-1, help_text=_("The time step of the last code accepted; the next must be later.")
    )

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        """The key as bytes."""
        return unhexlify(self.key.encode())

    def verify_token(self, token) -> bool:
        """Whether `token` is a current code of this app and later than the last one accepted (otp_totp's rules)."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(code, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                if getattr(settings, "OTP_TOTP_SYNC", True):
                    self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    @property
    def config_url(self) -> str:
        """The otpauth:// URL authenticator apps read from the QR code (Google's Key URI format)."""
        label = str(self.user.get_username())
        params = urlencode({"secret": b32encode(self.bin_key), "algorithm": "SHA1", "digits": self.digits,
                            "period": self.step})
        issuer = (getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        if issuer:
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A person's set of single-use backup codes, stored as keyed hashes (BackupCode)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_code_sets",
        help_text=_("The user that this device belongs to."),
    )

    class Meta(Device.Meta):
        verbose_name = "backup code set"

    def verify_token(self, token) -> bool:
        """Whether `token` is one of the unused codes; a code that matches is used up."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        match = self.codes.filter(code_hash__in=backup_code_hashes(user_id=self.user_id, code=str(token))).first()
        if match is None:
            self.throttle_increment(commit=True)
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)


class BackupCode(models.Model):
    """One unused backup code, as its HMAC (see backup_code_hashes); never the code itself."""

    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="backup_code_unique_per_set"),
        ]

    def __str__(self) -> str:
        return f"backup code #{self.pk} of {self.device}"
