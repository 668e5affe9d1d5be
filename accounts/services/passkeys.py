"""Passkeys and security keys (WebAuthn) as a second factor, and for passwordless sign-in: their writes.

The ceremonies are django-otp-webauthn's (py_webauthn underneath); the portal only configures them
(`PortalWebAuthnHelper`: the relying party from PORTAL_URL, attestation "none", user verification
"preferred") and adds what the package leaves to its users: names, audit events, mails to the person,
the rule that a second factor changes only with a recent sign-in or a current code, and that the last
factor a policy requires stays. What the policy asks is read in accounts.selectors.
"""

import ipaddress
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.settings import app_settings as webauthn_settings
from webauthn.helpers.exceptions import InvalidAuthenticationResponse
from webauthn.helpers.structs import UserVerificationRequirement

from accounts import selectors
from accounts.errors import SecondFactorRequired
from accounts.models import User
from accounts.services import two_factor
from core.audit import audit_record
from core.errors import PortalError

# How long after signing in a person may add or remove a passkey without giving a current code (the same rule as
# for adding an authenticator app beside passkeys, hence two_factor's).

NAME_MAX_LENGTH = 64
DEFAULT_NAME = "Passkey"

PASSKEY_ADDED = _("Your passkey is added. We have mailed you about it.")
PASSKEY_REMOVED = _("The passkey is removed. We have mailed you about it.")
PASSKEY_LAST_FACTOR = _(
    "Your account requires this second factor: add another passkey or security key before you remove this one."
)
PASSKEY_CURRENT_FACTOR = _(
    "To remove a passkey, give a current code of your authenticator app or an unused backup code, or sign in "
    "again: removing one is possible without a code for 15 minutes after signing in."
)
PASSKEY_SIGN_IN_AGAIN = _(
    "To add a passkey, sign in again: adding one is possible for 15 minutes after signing in."
)
PASSKEY_REMOVE_SIGN_IN_AGAIN = _(
    "Your account requires a passkey: codes are not accepted here. Sign out and in again with your passkey, then "
    "remove it within 15 minutes."
)
PASSKEY_CEREMONY_FAILED = _("The passkey or security key was not accepted. Try again, or use another one.")
PASSKEY_SIGNIN_REFUSED = _(
    "This passkey cannot sign you in here. Sign in with your email address instead."
)
PASSKEY_THROTTLED = _(
    "Too many failed attempts: signing in from here is paused for {minutes} minutes. Try again later."
)
CODES_REFUSED = _(
    "Your account requires a passkey or security key: codes from an authenticator app and backup codes are "
    "not accepted. Use your passkey, or ask your account manager to reset your second factor if you lost it."
)


class PasskeyError(PortalError):
    """A passkey could not be added, used or removed; str() is the message for the person."""


# -- relying party ------------------------------------------------------------------------------


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def relying_party_id(request=None) -> str:
    """The WebAuthn relying party id: the host of PORTAL_URL, or "localhost" for a loopback IP address.

    Browsers refuse IP addresses as relying party ids, and the embedded server's default PORTAL_URL is
    http://127.0.0.1:8000: there passkeys work when the portal is opened at http://localhost:8000. Read per
    request (OTP_WEBAUTHN_RP_ID_CALLABLE), so that a changed PORTAL_URL is followed.
    """
    host = urlsplit(settings.PORTAL_URL).hostname or ""
    return "localhost" if _is_loopback_ip(host) else host


def localhost_origin() -> str:
    """Where to open the portal for passkeys when PORTAL_URL is a loopback IP address (the pages say so), else ""."""
    parts = urlsplit(settings.PORTAL_URL)
    if not _is_loopback_ip(parts.hostname or ""):
        return ""
    return f"{parts.scheme}://localhost" + (f":{parts.port}" if parts.port else "")


def allowed_origins() -> list[str]:
    """The origins a passkey's signature may come from: PORTAL_URL's, and http://localhost:<port> for a
    loopback PORTAL_URL (see `relying_party_id`). An assertion made on any other site is refused."""
    parts = urlsplit(settings.PORTAL_URL)
    return [f"{parts.scheme}://{parts.netloc}", *filter(None, [localhost_origin()])]


class PortalWebAuthnHelper(WebAuthnHelper):
    """django-otp-webauthn's helper with the portal's relying party, origins and user verification.

    User verification is "preferred" in both ceremonies, so that security keys without a PIN still work as a
    second factor; a passwordless sign-in, which counts as both factors, requires the authenticator's user
    verification flag in its answer all the same (`require_user_verification`).
    """

    def get_allowed_origins(self) -> list[str]:
        return allowed_origins()

    def get_credential_name(self, user) -> str:
        return user.display_email or user.email

    def get_generate_authentication_options_kwargs(self, *, user=None, require_user_verification: bool) -> dict:
        kwargs = super().get_generate_authentication_options_kwargs(
            user=user, require_user_verification=require_user_verification)
        kwargs["user_verification"] = UserVerificationRequirement.PREFERRED
        self._require_user_verification = require_user_verification
        return kwargs

    def get_authentication_state(self, options: dict) -> dict:
        return {"challenge": options["challenge"],
                "require_user_verification": getattr(self, "_require_user_verification", True)}


# -- ceremony state ------------------------------------------------------------------------------

# What a ceremony's state in the session is for: each has its own session key and says so inside as well, so
# that a challenge issued for one ceremony (the second factor, which does not require user verification) is
# never accepted by another (a passwordless sign-in, which does).
REGISTER, VERIFY, SIGNIN = "register", "verify", "signin"
SIGN_COUNT_WENT_BACKWARDS = "passkey: sign count went backwards (cloned?)"


def ceremony_state(state: dict, *, purpose: str, user: User | None = None) -> dict:
    """The package's state of a ceremony that begins, with its purpose, its person (None for a passwordless
    sign-in) and when it was issued (`ceremony_state_valid` checks them)."""
    return {**state, "purpose": purpose, "user": user.pk if user else None, "issued_at": time.time()}


def ceremony_state_valid(state, *, purpose: str, user: User | None = None) -> bool:
    """Whether a ceremony's state was issued for this purpose and person, within OTP_WEBAUTHN_TIMEOUT_SECONDS.

    The browser gives up after that time too; a challenge kept longer (a session left open) is refused.
    """
    if not isinstance(state, dict) or state.get("purpose") != purpose:
        return False
    issued_at = state.get("issued_at")
    if not isinstance(issued_at, (int, float)):
        return False
    if not 0 <= time.time() - issued_at <= webauthn_settings.OTP_WEBAUTHN_TIMEOUT_SECONDS:
        return False
    return state.get("user") == (user.pk if user else None)


def sign_count_went_backwards(exc: BaseException) -> bool:
    """Whether a refused assertion's cause is a signature counter at or below the one last seen: a sign that
    the credential was copied (py_webauthn names it only in its message)."""
    cause = exc.__cause__
    return isinstance(cause, InvalidAuthenticationResponse) and "sign count" in str(cause)


# -- writes -------------------------------------------------------------------------------------


def passkey_name_clean(name: str) -> str:
    """The name a person gave their passkey, trimmed to what the list shows; a default when blank."""
    return " ".join((name or "").split())[:NAME_MAX_LENGTH] or DEFAULT_NAME


def passkey_register(*, user: User, helper: PortalWebAuthnHelper, state: dict, data: dict, name: str,
                     request=None) -> WebAuthnCredential:
    """Verify a new credential's registration (django-otp-webauthn) and keep it under its name; audit, mail.

    py_webauthn's errors pass through (the view answers them); nothing is kept then. A credential id that is
    registered already (to this person or another) is refused (PasskeyError), not kept twice.
    """
    try:
        with transaction.atomic():
            credential = helper.register_complete(user=user, state=state, data=data)
            credential.name = passkey_name_clean(name)
            credential.save(update_fields=["name"])
            audit_record(actor=user, action="two_factor.passkey_added", target=user, partner=user.partner,
                         request=request, data={"passkey": credential.pk, "name": credential.name})
            two_factor.notify_change(user, "passkey_added", name=credential.name)
    except IntegrityError as exc:
        raise PasskeyError(str(PASSKEY_CEREMONY_FAILED)) from exc
    return credential


def _is_last_required_factor(user: User, credential: WebAuthnCredential) -> bool:
    """Whether removing this passkey would leave the person without the second factor their policy requires
    (read without locks: passkey_remove checks again under them)."""
    if selectors.two_factor_requirement(user) not in (selectors.REQUIRED, selectors.GRACE):
        return False
    if WebAuthnCredential.objects.filter(user=user, confirmed=True).exclude(pk=credential.pk).exists():
        return False
    return selectors.phishing_resistant_required(user) or not selectors.has_authenticator_app(user)


def passkey_remove(*, user: User, credential: WebAuthnCredential, signed_in_at: float | None, current: str = "",
                   request=None) -> None:
    """Remove one of the person's passkeys; audit, mail.

    Needs a recent sign-in (two_factor.RECENT_SIGNIN_SECONDS) or a current code of their authenticator app or an unused
    backup code (SecondFactorRequired otherwise), as replacing an app does — under a phishing-resistant policy
    only the recent sign-in, as codes are not the factor it requires; and never removes the last second factor
    their policy requires (PasskeyError), checked before a code is, so that a refused removal uses none up.
    """
    if not two_factor.recent_signin(signed_in_at):
        if selectors.phishing_resistant_required(user):
            raise SecondFactorRequired(str(PASSKEY_REMOVE_SIGN_IN_AGAIN))
        if _is_last_required_factor(user, credential):
            raise PasskeyError(str(PASSKEY_LAST_FACTOR))
        if not current or two_factor.verify(user=user, token=current) is None:
            raise SecondFactorRequired(str(PASSKEY_CURRENT_FACTOR))
    with transaction.atomic():
        # All of the person's credentials are locked: two removals at once must not both pass the check below.
        locked = {c.pk: c for c in WebAuthnCredential.objects.select_for_update().filter(user=user).order_by("pk")}
        if credential.pk not in locked:
            return  # removed meanwhile (a second click): nothing more to do, and no second mail
        pk, name = credential.pk, credential.name
        locked[pk].delete()
        if selectors.two_factor_requirement(user) in (selectors.REQUIRED, selectors.GRACE) and not (
            selectors.has_required_factor(user)
        ):
            # The delete is rolled back with the error: the person keeps the factor they need.
            raise PasskeyError(str(PASSKEY_LAST_FACTOR))
        audit_record(actor=user, action="two_factor.passkey_removed", target=user, partner=user.partner,
                     request=request, data={"passkey": pk, "name": name})
        two_factor.notify_change(user, "passkey_removed", name=name)
