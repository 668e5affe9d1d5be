"""The partners app's domain errors, with the messages people see (tests reuse them)."""

from django.utils.translation import gettext_lazy as _

from core.errors import PortalError

NO_AGREEMENT = _(
    "{partner} has no signed, current partner agreement, so portal access cannot be requested, approved "
    "or sent yet. The account manager records the signed agreement."
)
DOCUMENT_NOT_PDF = _("The agreement must be a PDF file. This file is not one (its content does not start like a PDF).")
DOCUMENT_NOT_PDF_KEPT = _(
    "The stored document is not a PDF. It was kept, unserved, when agreements moved to private storage: "
    "upload the signed PDF to replace it."
)
DOCUMENT_MISSING = _(
    "The document's file was not found when agreements moved to private storage: upload the signed PDF again."
)


class PartnerError(PortalError):
    """A step refused because of the partner's own state (its agreement, its account)."""


class AgreementMissing(PartnerError):
    """R1: the partner has no signed, current agreement."""

    def __init__(self, partner):
        super().__init__(NO_AGREEMENT.format(partner=partner))


# Agreement versions and their acceptance in the portal (partners.services.agreements).
VERSION_UNKNOWN = _("This agreement version is not offered to {partner}. Reload the page and read the one offered.")
VERSION_STALE = _(
    "A newer agreement version ({label}) was published while this page was open. Nothing was accepted: read it "
    "and accept that one."
)
VERSION_DOCUMENT_CHANGED = _(
    "The document you read is not the one published for this version (its SHA-256 differs). Nothing was "
    "accepted: reload the page and read it again."
)
VERSION_ALREADY_ACCEPTED = _("{partner} has accepted agreement v{label} already (by {name} on {date}).")
NOT_A_SIGNER = _(
    "Only an authorised signer of {partner} may accept its agreement. Ask your account manager to mark you as one."
)
SIGNER_NOT_PARTNER_ADMIN = _(
    "{person} is not an active partner admin of {partner}: only they can be authorised signers."
)
VERSION_LABEL_TAKEN = _("Version {label} is published for {kind} already.")
SIGNER_FIELD_REQUIRED = _("Type your {field}.")
SIGNER_FIELD_ONE_LINE = _("Your {field} must be one line of text, without line breaks or other control characters.")
ACCEPTANCE_NOT_CONFIRMED = _("Tick “I accept” to accept the agreement.")

# Lapsed: what is blocked, on the banner and on an invitation's page.
INVITE_BLOCKED_NO_AGREEMENT = _(
    "{partner}'s partner agreement has lapsed, so invitations cannot be accepted until it is renewed. Your "
    "invitation stays valid until it expires: ask {who} to renew the agreement, then open the link again."
)


class AgreementRefused(PartnerError):
    """An agreement version not published, not accepted, or a signer not set: the message says why."""
