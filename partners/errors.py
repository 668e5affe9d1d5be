"""The partners app's domain errors, with the messages people see (tests reuse them)."""

from core.errors import PortalError

NO_AGREEMENT = (
    "{partner} has no signed, current partner agreement, so portal access cannot be requested, approved "
    "or sent yet. The account manager records the signed agreement."
)
DOCUMENT_NOT_PDF = "The agreement must be a PDF file. This file is not one (its content does not start like a PDF)."
DOCUMENT_NOT_PDF_KEPT = (
    "The stored document is not a PDF. It was kept, unserved, when agreements moved to private storage: "
    "upload the signed PDF to replace it."
)
DOCUMENT_MISSING = (
    "The document's file was not found when agreements moved to private storage: upload the signed PDF again."
)


class PartnerError(PortalError):
    """A step refused because of the partner's own state (its agreement, its account)."""


class AgreementMissing(PartnerError):
    """R1: the partner has no signed, current agreement."""

    def __init__(self, partner):
        super().__init__(NO_AGREEMENT.format(partner=partner))
