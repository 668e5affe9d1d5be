"""Two-factor authentication (R8): TOTP enrolment with backup codes, verification, grace periods, resets.

What the policy asks of a person is read in accounts.selectors.
"""

import base64
import io
import secrets

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from core.audit import audit_record

BACKUP_DEVICE_NAME = "Backup codes"


def grace_start(user: User) -> None:
    """Start a person's grace period at their first sign-in under a required policy."""
    if user.two_factor_required_since is None:
        user.two_factor_required_since = timezone.now()
        user.save(update_fields=["two_factor_required_since"])


def enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator for the person to scan: the one in progress, else a new one.

    Reusing it means that opening the page again (or a page opened by another site) never
    invalidates a QR code someone is scanning.
    """
    with transaction.atomic():
        pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        return pending or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def enrolment_confirm(*, user: User, device: TOTPDevice, token: str, request=None) -> list[str] | None:
    """Confirm the authenticator with a code from it; return new backup codes, or None for a wrong code."""
    if not device.verify_token(token.strip().replace(" ", "")):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_backup_codes(user)
        audit_record(actor=user, action="two_factor.enrolled", target=user, partner=user.partner, request=request)
    return codes


def backup_codes_regenerate(*, user: User, request=None) -> list[str]:
    """Replace the person's backup codes; the old ones stop working."""
    with transaction.atomic():
        codes = _new_backup_codes(user)
        audit_record(actor=user, action="two_factor.backup_codes_renewed", target=user, partner=user.partner,
                     request=request)
    return codes


def _new_backup_codes(user: User) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [f"{secrets.randbelow(10**8):08d}" for _ in range(settings.OTP_BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def verify(*, user: User, token: str):
    """The device that accepts this code (authenticator or unused backup code), or None.

    django-otp refuses a code used before and slows down repeated failures.
    """
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    return match_token(user, token)


def two_factor_reset(*, user: User, actor, request=None) -> None:
    """Remove a person's second factor so they enrol again (an account manager's or admin's act)."""
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=None):
            device.delete()
        user.two_factor_required_since = timezone.now()
        user.save(update_fields=["two_factor_required_since"])
        audit_record(actor=actor, action="two_factor.reset", target=user, partner=user.partner, request=request)


def qr_code_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL of an authenticator as an inline SVG QR code."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def secret_text(device: TOTPDevice) -> str:
    """The key in base32, for people who type it into their app instead of scanning."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))
