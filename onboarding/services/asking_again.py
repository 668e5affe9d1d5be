"""Asking again for a person whose request ended without access: the primary instead of an alias, after an
expired wait, or after a rejection (issue 12, point 3). The new request goes to the account manager's queue."""

from django.db import transaction

from accounts.models import User
from core.audit import audit_record
from core.emails import normalize_email
from onboarding.errors import (
    ALREADY_ASKED_AGAIN,
    ALREADY_REQUESTED,
    ASK_AGAIN_STATE,
    HAS_ACCESS,
    ListInvalid,
    OnboardingError,
)
from onboarding.models import ASKABLE_STATES, CheckResult, ItemState, RequestItem, RequestSource
from onboarding.services.requests import request_submit

# What can be asked for again, and which address the new request is for.
# A person on the way to access (or with it) in one of these: asking again would be a second request for them.
OPEN_STATES = (
    ItemState.SUBMITTED, ItemState.APPROVED, ItemState.AWAITING_VALIDATION, ItemState.VALIDATED,
    ItemState.INVALID_ADDRESS, ItemState.INVITED, ItemState.ACCOUNT_CREATED,
)


def _address_asked(item: RequestItem) -> str:
    """The address the follow-up is for: the suggested primary of an alias, otherwise the same one."""
    if item.state == ItemState.INVALID_ADDRESS and item.suggested_email:
        return item.suggested_email
    return item.display_email


def _refuse_open_request(*, item: RequestItem, email: str) -> None:
    """Refuse when the person is already asked for again, or requested by another list still on its way."""
    follow_up = item.follow_ups.select_related("request").order_by("pk").first()
    if follow_up is not None:
        raise OnboardingError(ALREADY_ASKED_AGAIN.format(email=follow_up.display_email,
                                                         request=follow_up.request_id))
    open_item = (RequestItem.objects.filter(partner=item.partner, email=normalize_email(email), state__in=OPEN_STATES)
                 .exclude(pk=item.pk).order_by("pk").first())
    if open_item is not None:
        raise OnboardingError(ALREADY_REQUESTED.format(email=open_item.display_email, partner=item.partner,
                                                       request=open_item.request_id))


def request_item_ask_again(*, item: RequestItem, actor: User, note: str = "", request=None) -> RequestItem:
    """Request the person of `item` again as a new list of one (by form, from `actor`, with `note`), linked to
    `item` through `replaces`; refused for any other state than ASKABLE_STATES, when it was asked again already
    (a double click makes one follow-up), or when the address is requested or has access already. The note is
    optional: after a rejection it is where the requester answers the reason, but one who fixed the cause
    elsewhere (an agreement signed, a person who now exists) has nothing to add and would type filler."""
    with transaction.atomic():
        # Locked: a second click waits here, then finds the first click's follow-up and is refused.
        item = RequestItem.objects.select_for_update(of=("self",)).select_related(
            "partner__account_manager").get(pk=item.pk)
        if item.state not in ASKABLE_STATES:
            raise OnboardingError(ASK_AGAIN_STATE.format(state=item.get_state_display().lower()))
        email = _address_asked(item)
        _refuse_open_request(item=item, email=email)
        try:
            portal_request = request_submit(partner=item.partner, actor=actor, rows=[(item.name, email, item.role)],
                                            source=RequestSource.FORM, note=(note or "").strip(), request=request)
        except ListInvalid as exc:  # a list of one: its only problem, without the row number
            raise OnboardingError("; ".join(why for _, why in exc.problems)) from exc
        follow_up = portal_request.items.get()
        if follow_up.check_result == CheckResult.HAS_ACCESS:
            # Raised inside the transaction: the list just made, its audit and its mail are undone.
            raise OnboardingError(HAS_ACCESS.format(email=follow_up.display_email))
        follow_up.replaces = item
        follow_up.save(update_fields=["replaces", "updated_at"])
        audit_record(actor=actor, action="request.item_asked_again", target=item, partner=item.partner,
                     request=request, data={"asked_as": follow_up.display_email, "follow_up": follow_up.pk,
                                            "request": portal_request.pk, "state": item.state})
        audit_record(actor=actor, action="request.item_follow_up", target=follow_up, partner=item.partner,
                     request=request, data={"replaces": item.pk, "asked_for": item.display_email,
                                            "state": item.state})
    return follow_up
