"""Invites and welcome links: created with their person, mailed in two steps, resent, revoked, renewed.

`lifecycle` holds what account managers, the expiry job and the invited person change; `sending`
the mail: claimed, sent, retried, swept; `reminders` the one reminder; `notices` who else hears of an
invite (requesters on acceptance, the account manager on failure). Callers import from here.
"""

from onboarding.services.invites.lifecycle import (
    invite_create,
    invite_renewal_request,
    invite_resend,
    invite_revoke,
    invites_expire,
    person_items,
    portal_user_prepare,
)
from onboarding.services.invites.many import invites_create_many
from onboarding.services.invites.notices import invite_accepted_requesters_notify, invite_failed_notify
from onboarding.services.invites.reminders import invites_remind
from onboarding.services.invites.sending import (
    SEND_TASK,
    invite_link,
    invite_send,
    invite_send_claim,
    invite_send_failed,
    invite_send_finish,
    invite_sent_record,
    invite_token,
    invites_send_fan_out,
    invites_send_queue,
    invites_sweep,
)

__all__ = [
    "SEND_TASK",
    "invite_accepted_requesters_notify",
    "invite_create",
    "invite_failed_notify",
    "invite_link",
    "invite_renewal_request",
    "invite_resend",
    "invite_revoke",
    "invite_send",
    "invite_send_claim",
    "invite_send_failed",
    "invite_send_finish",
    "invite_sent_record",
    "invite_token",
    "invites_create_many",
    "invites_expire",
    "invites_remind",
    "invites_send_fan_out",
    "invites_send_queue",
    "invites_sweep",
    "person_items",
    "portal_user_prepare",
]
