"""Two-factor authentication (R8): TOTP enrolment with backup codes, verification, grace periods, resets.

The devices are accounts' own (accounts.models.devices: the key encrypted, backup codes hashed).
Replacing a confirmed authenticator and renewing backup codes need a current code of the second
factor — a signed-in session alone, however fresh, is not enough — and every change to someone's
second factor that they may not have made themselves is mailed to them.

What the policy asks of a person is read in accounts.selectors.
"""

import base64
import io
import secrets
import time

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user

from accounts import selectors
from accounts.errors import SecondFactorRequired
from accounts.models import BackupCode, BackupCodeDevice, TOTPDevice, User, backup_code_hash
from accounts.services.api_tokens import api_tokens_revoke_of
from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_send_on_commit

BACKUP_DEVICE_NAME = "Backup codes"
# How long after signing in a person may add or remove a passkey (or add an app beside passkeys) without a code.
RECENT_SIGNIN_SECONDS = 15 * 60
SIGN_IN_AGAIN_FOR_APP = _(
    "To add an authenticator app beside your passkeys, sign in again: this is possible for 15 minutes after "
    "signing in."
)
SUBJECTS = {
    "two_factor_replaced": _("Your Partner Portal sign-in: a new authenticator app"),
    "two_factor_backup_codes_renewed": _("Your Partner Portal sign-in: new backup codes"),
    "two_factor_reset": _("Your Partner Portal sign-in: two-factor authentication was reset"),
    "passkey_added": _("Your Partner Portal sign-in: a new passkey"),
    "passkey_removed": _("Your Partner Portal sign-in: a passkey was removed"),
}


def grace_start(user: User) -> None:
    """Start a person's grace period at their first sign-in under a required policy."""
    if user.two_factor_required_since is None:
        user.two_factor_required_since = timezone.now()
        user.save(update_fields=["two_factor_required_since"])


def recent_signin(signed_in_at: float | None) -> bool:
    """Whether the session signed in within RECENT_SIGNIN_SECONDS (accounts.flow.SIGNED_IN_AT)."""
    return signed_in_at is not None and time.time() - signed_in_at <= RECENT_SIGNIN_SECONDS


def enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator for the person to scan: the one in progress, else a new one.

    Reusing it means that opening the page again (or a page opened by another site) never
    invalidates a QR code someone is scanning.
    """
    with transaction.atomic():
        pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        return pending or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def enrolment_confirm(
    *, user: User, device: TOTPDevice, token: str, current: str = "", signed_in_at: float | None = None,
    request=None
) -> list[str] | None:
    """Confirm the authenticator with a code from it; return new backup codes, or None for a wrong code.

    When it replaces a confirmed authenticator, `current` must be a code of that one or an unused
    backup code (SecondFactorRequired otherwise, and nothing changes); the person is then mailed.
    Someone whose only second factor is a passkey has no code to give: adding an app beside it needs a
    recent sign-in (`signed_in_at`, RECENT_SIGNIN_SECONDS) instead, as adding a passkey does.
    """
    if not device.verify_token(_clean(token)):
        return None
    replacing = selectors.has_authenticator_app(user)
    # Checked after the new code, so that a mistyped new code never uses up a backup code.
    if replacing and verify(user=user, token=current) is None:
        raise SecondFactorRequired()
    if not replacing and selectors.has_passkey(user) and not recent_signin(signed_in_at):
        raise SecondFactorRequired(str(SIGN_IN_AGAIN_FOR_APP))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_backup_codes(user)
        action = "two_factor.replaced" if replacing else "two_factor.enrolled"
        audit_record(actor=user, action=action, target=user, partner=user.partner, request=request)
        if replacing:
            notify_change(user, "two_factor_replaced")
    return codes


def backup_codes_regenerate(*, user: User, current: str = "", request=None) -> list[str]:
    """Replace the person's backup codes (the old ones stop working), given a current code of their second factor.

    Raises SecondFactorRequired, changing nothing, when `current` is not a current code of their
    authenticator nor an unused backup code. The person is mailed.
    """
    if verify(user=user, token=current) is None:
        raise SecondFactorRequired()
    with transaction.atomic():
        codes = _new_backup_codes(user)
        audit_record(actor=user, action="two_factor.backup_codes_renewed", target=user, partner=user.partner,
                     request=request)
        notify_change(user, "two_factor_backup_codes_renewed")
    return codes


def _new_backup_codes(user: User) -> list[str]:
    # One set per person: any other (a migrated one under another name) goes, with its codes.
    device = BackupCodeDevice.objects.filter(user=user).order_by("pk").first() or BackupCodeDevice.objects.create(
        user=user, name=BACKUP_DEVICE_NAME, confirmed=True
    )
    BackupCodeDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.codes.all().delete()
    codes = [f"{secrets.randbelow(10**8):08d}" for _ in range(settings.OTP_BACKUP_CODES)]
    BackupCode.objects.bulk_create(
        [BackupCode(device=device, code_hash=backup_code_hash(user_id=user.pk, code=code)) for code in codes]
    )
    return codes


def _clean(token: str | None) -> str:
    return (token or "").strip().replace(" ", "")


def verify(*, user: User, token: str) -> TOTPDevice | BackupCodeDevice | None:
    """The device that accepts this code (authenticator or unused backup code), or None.

    A code used before is refused and repeated failures slow down (django-otp's throttling); the
    devices are locked while a code is checked, so two requests cannot both use one code. The
    failure is committed, whatever the caller does next.
    """
    token = _clean(token)
    if not token:
        return None
    with transaction.atomic():
        for model in (TOTPDevice, BackupCodeDevice):
            for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
                if device.verify_token(token):
                    return device
    return None


def two_factor_reset(*, user: User, actor, request=None) -> None:
    """Remove a person's second factor so they enrol again (an account manager's or admin's act); mails them."""
    with transaction.atomic():
        # Every django-otp device of theirs, of any plugin (passkeys and security keys too: django-otp-webauthn's
        # credentials are django-otp devices): none may outlive the reset.
        for device in devices_for_user(user, confirmed=None):
            device.delete()
        user.two_factor_required_since = timezone.now()
        user.save(update_fields=["two_factor_required_since"])
        audit_record(actor=actor, action="two_factor.reset", target=user, partner=user.partner, request=request)
        api_tokens_revoke_of(user_ids=[user.pk], why="two_factor.reset", actor=actor, request=request)
        notify_change(user, "two_factor_reset")


def notify_change(user: User, template: str, **context) -> None:
    """Tell the person about a change to their second factor (a durable mail, sent after commit)."""
    mail_send_on_commit(to=user.display_email, subject=SUBJECTS[template], template=template, partner=user.partner,
                        context={"user": user, "security_url": absolute_url("accounts:security"), **context})


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
