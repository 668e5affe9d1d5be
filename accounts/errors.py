"""Domain errors of sign-in, two-factor and passwords, with the messages people see (tests reuse them)."""

from django.utils.translation import gettext_lazy as _

from core.errors import PortalError

# One message for an unknown address, an alias, a disabled person and a wrong password, so the
# answer never tells whether an address exists (no account enumeration).
SIGN_IN_FAILED = _("That email address and password do not match. Use your primary email address.")
DIRECTORY_UNREACHABLE = _(
    "Your directory is unreachable at the moment, so your domain password cannot be checked. "
    "Please try again later."
)
LOCKED_OUT = _(
    "Too many failed attempts: signing in with this address is paused for {minutes} minutes. "
    "Try again later, or ask your account manager to unlock it."
)
SSO_FAILED = _("Single sign-on did not sign you in: {reason}")
SSO_UNAVAILABLE = _("Single sign-on is not available for your account right now. Please try again later.")
CODE_WRONG = _("That code is not right, or it was already used. Try the next code from your app.")
NEW_APP_CODE_WRONG = _("That code is not right. Check the time on your phone and try the current code.")
# Replacing a second factor or renewing backup codes: a signed-in session alone is not enough.
CURRENT_FACTOR_WRONG = _(
    "That is not a current code of the authenticator app you use now, nor one of your unused backup "
    "codes. Your second factor is unchanged."
)
RESET_CODE_INVALID = _(
    "This reset link or code does not work any more: it works once, for a short time, and only until "
    "the password is changed. Ask for a new one."
)
SECOND_FACTOR_REPLACED = _(
    "Your new authenticator app is on; the old one no longer works. We have mailed you about it."
)
BACKUP_CODES_RENEWED = _("Your old backup codes no longer work. We have mailed you about it.")
CHANGE_DONE = _("Your password is changed. Your other sessions have been signed out.")
RESET_DONE = _("Your password is set. Sign in with it now.")


class SignInError(PortalError):
    """Signing in could not go on; str() is the message for the person."""


class DirectoryUnreachable(SignInError):
    """A domain password could not be checked because the account's directory did not answer."""

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(DIRECTORY_UNREACHABLE)


class SecondFactorRequired(PortalError):
    """A change to the person's second factor was asked for without a current code of it."""

    def __init__(self, message: str = CURRENT_FACTOR_WRONG):
        super().__init__(message)


class SsoError(SignInError):
    """The account's OpenID Connect provider could not be used (discovery or configuration)."""


# People with access (accounts.services.access).
ACCESS_OWN = _("You cannot change your own access: ask another partner admin or your account manager.")
LAST_PARTNER_ADMIN = _(
    "This is the partner's last active partner admin: make someone else a partner admin first, so that the "
    "partner can still manage its people."
)
ACCESS_NOT_ACTIVE = _("{email} has no active access to deactivate.")
ACCESS_REMOVED_ALREADY = _("{email} was removed already.")
ACCESS_NOT_RESTORABLE = _(
    "{email} cannot be reactivated: only a deactivated person, or one their directory disabled, can be. "
    "Request access for them again instead."
)
ACCESS_STILL_OFF_IN_DIRECTORY = _(
    "{email} is still disabled or removed in the partner's directory: enable them there first (the next "
    "sync brings the change), then reactivate."
)
ACCESS_ROLE_UNCHANGED = _("{email} is {role} already.")
PERSON_DEACTIVATED = _("{email} is deactivated: their sessions have ended.")
PERSON_REACTIVATED = _("{email} can sign in again.")
PERSON_REMOVED = _("{email} is removed from the portal: their sessions have ended.")
PERSON_ROLE_CHANGED = _("{email} is now {role}.")
PERSON_SIGNER = _("{email} may now accept the partner's agreements in the portal.")
PERSON_NOT_SIGNER = _("{email} no longer accepts the partner's agreements.")


class AccessRefused(PortalError):
    """A change to someone's access that the rules refuse; str() says why."""

API_TOKEN_NOT_ALLOWED = _("Only partner admins, account managers and admins make API tokens.")
API_TOKEN_LIFETIME = _("A token lives between 1 and {days} days.")
API_TOKEN_NAME_REQUIRED = _("Give the token a name: what it is for.")
API_TOKEN_REFUSED = _("The token is unknown, expired or revoked, or its person no longer has access.")


class ApiTokenRefused(PortalError):
    """A token cannot be made as asked (who asks, its name, its lifetime)."""
