"""Domain errors of sign-in, with the messages people see (tests reuse them)."""

from core.errors import PortalError

# One message for an unknown address, an alias, a disabled person and a wrong password, so the
# answer never tells whether an address exists (no account enumeration).
SIGN_IN_FAILED = "That email address and password do not match. Use your primary email address."
DIRECTORY_UNREACHABLE = (
    "Your directory is unreachable at the moment, so your domain password cannot be checked. "
    "Please try again later."
)
LOCKED_OUT = (
    "Too many failed attempts: signing in with this address is paused for {minutes} minutes. "
    "Try again later, or ask your account manager to unlock it."
)
SSO_FAILED = "Single sign-on did not sign you in: {reason}"
SSO_UNAVAILABLE = "Single sign-on is not available for your account right now. Please try again later."
CODE_WRONG = "That code is not right, or it was already used. Try the next code from your app."


class SignInError(PortalError):
    """Signing in could not go on; str() is the message for the person."""


class DirectoryUnreachable(SignInError):
    """A domain password could not be checked because the account's directory did not answer."""

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(DIRECTORY_UNREACHABLE)


class SsoError(SignInError):
    """The account's OpenID Connect provider could not be used (discovery or configuration)."""
