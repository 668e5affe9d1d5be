"""Every state change of partners' agreements: publishing versions, accepting and recording signatures,
authorised signers, and the reminders before an agreement lapses."""

from partners.services.agreements import agreement_accept, agreement_record, agreement_version_publish
from partners.services.reminders import agreement_remind, agreement_reminders_send
from partners.services.signers import agreement_signer_set

__all__ = [
    "agreement_accept",
    "agreement_record",
    "agreement_remind",
    "agreement_reminders_send",
    "agreement_signer_set",
    "agreement_version_publish",
]
