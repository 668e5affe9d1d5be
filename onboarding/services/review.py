"""Account managers' decisions, and what follows them: accounts for resellers, recipient validation for MSPs.

    submitted → approved | rejected
    MSP:      approved → validated → invited → accepted
              approved → awaiting_validation → validated … (R9), or → expired
              approved → invalid_address (alias or forwarding, with the primary suggested)
    reseller: approved → account_created → accepted
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_send_on_commit
from directory_sync.selectors import LookupKind, recipient_lookup
from onboarding.errors import (
    REASON_CONTROL_CHARACTERS,
    REASON_REQUIRED,
    REFUSED,
    WRONG_STATE,
    InviteAlreadyOpen,
    OnboardingError,
)
from onboarding.models import OPEN_INVITE_STATES, Invite, InviteKind, ItemState, RequestItem
from onboarding.services.invites import invite_create
from onboarding.validators import has_control_characters
from partners.selectors import agreement_require

logger = logging.getLogger(__name__)


def _locked(item: RequestItem) -> RequestItem:
    # of=self: lock the item only (the joined rows may be on the nullable side of an outer join).
    locked = RequestItem.objects.select_for_update(of=("self",)).select_related("partner", "request__submitted_by")
    return locked.get(pk=item.pk)


def _transition(item: RequestItem, state: str, *, actor, request=None, data: dict | None = None, **fields) -> None:
    item.state = state
    for name, value in fields.items():
        setattr(item, name, value)
    item.save()
    audit_record(actor=actor, action=f"request.item_{state}", target=item, partner=item.partner, request=request,
                 data=data or {})


def request_item_approve(*, item: RequestItem, actor, request=None) -> RequestItem:
    """Approve one person; resellers get their account, MSPs go through recipient validation."""
    with transaction.atomic():
        item = _locked(item)
        if item.state != ItemState.SUBMITTED:
            raise OnboardingError(WRONG_STATE.format(state=item.get_state_display().lower(), action="approved"))
        agreement_require(partner=item.partner)
        _transition(item, ItemState.APPROVED, actor=actor, request=request, decided_by=actor,
                    decided_at=timezone.now())
        if item.partner.is_msp:
            recipient_validate(item=item, actor=actor, request=request)
        else:
            # R3: no recipient validation; the account exists now, the welcome mail sets it up.
            invite = invite_create(partner=item.partner, email=item.display_email, name=item.name,
                                   kind=InviteKind.WELCOME, item=item, actor=actor, request=request)
            _transition(item, ItemState.ACCOUNT_CREATED, actor=actor, request=request, user=invite.user)
        _notify_requester(item, decision="approved")
    return item


def request_item_reject(*, item: RequestItem, actor, reason: str, request=None) -> RequestItem:
    """Reject one person, with a reason the requester sees."""
    reason = (reason or "").strip()
    if not reason:
        raise OnboardingError(REASON_REQUIRED)
    if has_control_characters(reason):
        # The reason is mailed to the requester: a line break in it would forge lines of that mail.
        raise OnboardingError(REASON_CONTROL_CHARACTERS)
    with transaction.atomic():
        item = _locked(item)
        if item.state != ItemState.SUBMITTED:
            raise OnboardingError(WRONG_STATE.format(state=item.get_state_display().lower(), action="rejected"))
        _transition(item, ItemState.REJECTED, actor=actor, request=request, data={"reason": reason},
                    decided_by=actor, decided_at=timezone.now(), rejection_reason=reason)
        _notify_requester(item, decision="rejected")
    return item


def recipient_validate(*, item: RequestItem, actor=None, request=None) -> RequestItem:
    """R4/R7/R9: invite a primary address of an enabled person; suggest the primary for an alias or
    forwarding address; hold anyone not (yet) on the account. Call with the item locked."""
    agreement_require(partner=item.partner)
    answer = recipient_lookup(partner_id=item.partner_id, address=item.email)
    if answer.kind == LookupKind.PRIMARY:
        _transition(item, ItemState.VALIDATED, actor=actor, request=request,
                    data={"person": answer.person.external_id})
        existing = Invite.objects.filter(partner=item.partner, email=item.email, state__in=OPEN_INVITE_STATES).first()
        if existing is None:
            try:
                invite = invite_create(partner=item.partner, email=item.display_email, name=item.name,
                                       kind=InviteKind.INVITE, item=item, actor=actor, request=request)
            except InviteAlreadyOpen as exc:
                existing = exc.invite  # approved on another list at the same moment, and committed first
            else:
                item.user = invite.user
                item.save(update_fields=["user"])
                return item
        # Asked for twice (two lists): the person's open invitation serves both requests.
        _transition(item, ItemState.INVITED, actor=actor, request=request, data={"invite": existing.pk})
        return item
    if answer.kind in (LookupKind.ALIAS, LookupKind.FORWARDING):
        _transition(item, ItemState.INVALID_ADDRESS, actor=actor, request=request,
                    data={"kind": answer.kind, "primary": answer.primary_address},
                    suggested_email=answer.primary_address)
        return item
    if item.state != ItemState.AWAITING_VALIDATION:
        days = settings.AWAITING_VALIDATION_EXPIRY_DAYS
        _transition(item, ItemState.AWAITING_VALIDATION, actor=actor, request=request, data={"lookup": answer.kind},
                    awaiting_until=timezone.now() + datetime.timedelta(days=days))
    return item


def held_items_recheck(*, partner_id: int) -> int:
    """After a successful directory sync: check the people held for recipient validation again."""
    released = 0
    for item_id in RequestItem.objects.filter(
        partner_id=partner_id, state=ItemState.AWAITING_VALIDATION
    ).values_list("pk", flat=True):
        try:
            with transaction.atomic():
                item = RequestItem.objects.select_for_update(of=("self",)).select_related("partner").filter(
                    pk=item_id, state=ItemState.AWAITING_VALIDATION
                ).first()
                if item is None:
                    continue
                recipient_validate(item=item)
                released += item.state != ItemState.AWAITING_VALIDATION
        except REFUSED:
            # One person who cannot be invited (e.g. the agreement lapsed) must not hold up the rest.
            logger.exception("held request item %s could not be released", item_id)
    return released


def held_items_expire(*, now: datetime.datetime | None = None) -> int:
    """Held items past their time expire, and the requester and account manager are told why."""
    now = now or timezone.now()
    expired = 0
    for item_id in RequestItem.objects.filter(
        state=ItemState.AWAITING_VALIDATION, awaiting_until__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            item = RequestItem.objects.select_for_update(of=("self",)).select_related(
                "partner__account_manager", "request__submitted_by"
            ).filter(pk=item_id, state=ItemState.AWAITING_VALIDATION).first()
            if item is None:
                continue
            _transition(item, ItemState.EXPIRED, actor=None, data={"awaited_since": item.decided_at.isoformat()})
            context = {"item": item, "partner": item.partner, "days": settings.AWAITING_VALIDATION_EXPIRY_DAYS}
            recipients = {item.request.submitted_by.display_email}
            if item.partner.account_manager:
                recipients.add(item.partner.account_manager.display_email)
            for to in sorted(recipients):
                mail_send_on_commit(to=to, subject=f"Portal request for {item.display_email} expired",
                                    template="request_item_expired", context=context, partner=item.partner)
            expired += 1
    return expired


def _notify_requester(item: RequestItem, *, decision: str) -> None:
    requester = item.request.submitted_by
    mail_send_on_commit(
        to=requester.display_email, subject=f"Portal request for {item.display_email} {decision}",
        template="request_item_decided", partner=item.partner,
        context={"item": item, "decision": decision, "partner": item.partner,
                 "request_url": absolute_url("onboarding:request_detail", item.partner.slug, item.request_id)},
    )
