"""Onboarding's domain errors, with the messages people see (tests reuse them)."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import CONCURRENT_CHANGE, ConcurrentChange, PortalError  # noqa: F401 - onboarding shows them
from partners.errors import AgreementMissing

WRONG_STATE = _("This item is {state}; it cannot be {action}.")
REASON_REQUIRED = _("Say why the request is rejected: the requester sees the reason.")
EMPTY_LIST = _("Add at least one person (name and email address).")
INVITE_NOT_OPEN = _("This invite is {state}: it cannot be {action}.")
INVITE_LINK_INVALID = _("This invitation link is not valid. It may have been replaced by a newer one, or revoked.")
INVITE_EXPIRED = _("This invitation has expired.")
INVITE_PERSON_GONE = _(
    "This invitation can no longer be accepted: {email} is no longer an active primary address on "
    "{partner}'s account. Please contact your account manager."
)
ALREADY_OPEN_INVITE = _("{email} already has an open invitation from {partner}.")
HAS_ACCESS = _("{email} already has a portal account (possibly with another partner): no invitation is possible.")
ALREADY_ACCEPTED = _("This invitation was already accepted: sign in with your address.")
PASSWORD_REFUSED = _("That is not your domain password. Use the one you sign in to your company's computers with.")
ACCEPT_THROUGH_SSO = _("Accept this invitation through your single sign-on.")
SSO_INVITE_UNMATCHED = _("the invitation could not be matched to your sign-in. Please start again.")
PASSWORDS_DIFFER = _("The two passwords differ.")
NOTHING_CHOSEN = _("Choose at least one person.")
INVITE_SEND_ABANDONED = _(
    "The mail was being sent when its worker stopped, {attempts} times without an outcome: not tried again."
)
ASK_AGAIN_STATE = _(
    "This person is {state}: only an invalid address, an expired wait or a rejection can be asked for again."
)
ALREADY_ASKED_AGAIN = _("{email} was asked for again already: see the follow-up request #{request}.")
ALREADY_REQUESTED = _("{email} is already requested for {partner} and on its way: see request #{request}.")
MAIL_RESENT = _("The mail to {to} is on its way again.")
INVITE_RESENT = _("A new link is on its way to {email}; the old one no longer works.")
INVITE_REVOKED = _("The invitation of {email} is revoked.")
INVITE_CODE_MISSING = _("Enter the code from your invitation mail.")
INVITE_LINK_OUTDATED = _(
    "This invitation link is from an older mail and no longer works: ask your account manager to send the "
    "invitation again."
)
INVITE_ACCEPTED_SUBJECT = _("Your Partner Portal access is active ({partner})")

# Lists of people: what a row, a note or a reason may hold, and how big an upload may be.
NAME_CONTROL_CHARACTERS = _("the name contains a line break or another control character")
NAME_TOO_LONG = _("the name is longer than {limit} characters")
EMAIL_TOO_LONG = _("the email address is longer than {limit} characters")
TEXT_CONTROL_CHARACTERS = _("Line breaks and other control characters are not allowed here.")
NOTE_CONTROL_CHARACTERS = _("The note must be one line of text, without line breaks or other control characters.")
REASON_CONTROL_CHARACTERS = _(
    "The reason must be one line of text, without line breaks or other control characters: the requester "
    "gets it by mail."
)
DOMAIN_OF_ANOTHER_PARTNER = _(
    "the domain of {email} belongs to another partner's account: only that partner can ask for access there"
)
DOMAIN_OF_VENDOR = _("{email} is an address of the vendor's own domain: vendor staff are not requested by partners")
LIST_TOO_MANY_ROWS = _("a list holds at most {limit} people: the rest of the file was not read")
LIST_FILE_TOO_LARGE = _("The file is {size}; a list file may be at most {limit}. Split it into smaller lists.")
CSV_HEADER = _("the header row must name the columns name and email")
ROLE_UNKNOWN = _("the role {role!r} is neither staff nor admin")
DOMAIN_FLAGGED_SUBJECT = _("Requests for {partner} need a second look: {domain} is now another account's domain")


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


class ListTooLarge(OnboardingError):
    """An uploaded list over the size limit: refused before it is read."""


class ListInvalid(OnboardingError):
    """A submitted list (form or CSV) with bad rows: nothing of it was written."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = [gettext("row {row}: {reason}").format(row=row, reason=why) for row, why in problems]
        super().__init__(gettext("The list was not submitted:") + "\n" + "\n".join(lines))


# Everything an onboarding service refuses with: its own errors, R1's missing agreement, and a database
# conflict with a concurrent change (see core.conflicts).
REFUSED = (OnboardingError, AgreementMissing, ConcurrentChange)
