"""What each state of a requested person and of an invite means next: what happens, and who acts.

One line per state, shown as a visible hint beside the state wherever a page shows one (the partner's page,
a list's page, a person's timeline, the outcome of a decision), so nobody has to guess whether to wait or act.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from onboarding.models import InviteState, ItemState

ITEM_NEXT: dict[str, Promise] = {
    ItemState.SUBMITTED: _("Waits for the account manager to approve or reject this person."),
    ItemState.APPROVED: _("Approved: the portal is checking the partner's account; nobody needs to act."),
    ItemState.REJECTED: _("Rejected for the reason shown: a partner admin may ask for this person again with a "
                          "note."),
    ItemState.AWAITING_VALIDATION: _(
        "Not (yet) an enabled person with this primary address on the partner's account: the partner adds or "
        "enables them in its directory, and the invitation goes out by itself after the next sync. If that does "
        "not happen in time, the request expires and the requester is told."
    ),
    ItemState.VALIDATED: _("Found on the partner's account: the portal sends the invitation; nobody needs to act."),
    ItemState.INVALID_ADDRESS: _("An alias or forwarding address cannot sign in: a partner admin asks again for the "
                                 "primary address shown."),
    ItemState.INVITED: _("Invitation sent: the person accepts it from the mail; the account manager can send it "
                         "again."),
    ItemState.ACCOUNT_CREATED: _("Account set up: the person starts using it from the welcome mail; the account "
                                 "manager can send it again."),
    ItemState.ACCEPTED: _("Has portal access: nothing more to do."),
    ItemState.EXPIRED: _("Ended without access (not confirmed or not accepted in time): a partner admin may ask "
                         "for this person again."),
    ItemState.REVOKED: _("The invitation was withdrawn: a partner admin may ask for this person again."),
}

INVITE_NEXT: dict[str, Promise] = {
    InviteState.PENDING: _("Queued: the portal sends it shortly; nobody needs to act."),
    InviteState.SENDING: _("Being sent now; nobody needs to act."),
    InviteState.SENT: _("In the person's mailbox: they accept it with its link before it expires."),
    InviteState.FAILED: _("The mail could not be sent (error shown): the account manager checks the address and "
                          "sends it again."),
    InviteState.ACCEPTED: _("Accepted: the person has portal access."),
    InviteState.EXPIRED: _("Not accepted in time: the person asks for a new one from its link, or the account "
                           "manager sends it again."),
    InviteState.REVOKED: _("Withdrawn: its link no longer works."),
}


def item_state_next(state: str) -> str:
    """What happens next to a requested person in `state`, and who acts ("" for a state not known here)."""
    return str(ITEM_NEXT.get(state, ""))


def invite_state_next(state: str) -> str:
    """What happens next to an invite in `state`, and who acts ("" for a state not known here)."""
    return str(INVITE_NEXT.get(state, ""))
