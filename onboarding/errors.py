"""Onboarding's domain errors, with the messages people see (tests reuse them)."""

from core.errors import CONCURRENT_CHANGE, ConcurrentChange, PortalError  # noqa: F401 - onboarding shows them
from partners.errors import AgreementMissing

WRONG_STATE = "This item is {state}; it cannot be {action}."
REASON_REQUIRED = "Say why the request is rejected: the requester sees the reason."
EMPTY_LIST = "Add at least one person (name and email address)."
INVITE_NOT_OPEN = "This invite is {state}: it cannot be {action}."
INVITE_LINK_INVALID = "This invitation link is not valid. It may have been replaced by a newer one, or revoked."
INVITE_EXPIRED = "This invitation has expired."
INVITE_PERSON_GONE = (
    "This invitation can no longer be accepted: {email} is no longer an active primary address on "
    "{partner}'s account. Please contact your account manager."
)
ALREADY_OPEN_INVITE = "{email} already has an open invitation from {partner}."
HAS_ACCESS = "{email} already has a portal account (possibly with another partner): no invitation is possible."
ALREADY_ACCEPTED = "This invitation was already accepted: sign in with your address."
PASSWORD_REFUSED = "That is not your domain password. Use the one you sign in to your company's computers with."  # noqa: S105
ACCEPT_THROUGH_SSO = "Accept this invitation through your single sign-on."
SSO_INVITE_UNMATCHED = "the invitation could not be matched to your sign-in. Please start again."
PASSWORDS_DIFFER = "The two passwords differ."
NOTHING_CHOSEN = "Choose at least one person."
INVITE_SEND_ABANDONED = (
    "The mail was being sent when its worker stopped, {attempts} times without an outcome: not tried again."
)
MAIL_RESENT = "The mail to {to} is on its way again."
INVITE_RESENT = "A new link is on its way to {email}; the old one no longer works."
INVITE_REVOKED = "The invitation of {email} is revoked."


class OnboardingError(PortalError):
    """A refused onboarding step; str() is the message for people."""


class InviteExpired(OnboardingError):
    def __init__(self):
        super().__init__(INVITE_EXPIRED)


class InviteAlreadyOpen(OnboardingError):
    """The person has an open invite from this partner already: `invite` is that one."""

    def __init__(self, invite, *, email: str, partner):
        self.invite = invite
        super().__init__(ALREADY_OPEN_INVITE.format(email=email, partner=partner))


class ListInvalid(OnboardingError):
    """A submitted list (form or CSV) with bad rows: nothing of it was written."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__("The list was not submitted:\n" + "\n".join(f"row {row}: {why}" for row, why in problems))


# Everything an onboarding service refuses with: its own errors, R1's missing agreement, and a database
# conflict with a concurrent change (see core.conflicts).
REFUSED = (OnboardingError, AgreementMissing, ConcurrentChange)
