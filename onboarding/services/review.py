"""Account managers' decisions, and what follows them: accounts for resellers, recipient validation for MSPs.

    submitted → approved | rejected
    MSP:      approved → validated → invited → accepted
              approved → awaiting_validation → validated … (R9), or → expired
              approved → invalid_address (alias or forwarding, with the primary suggested)
    reseller: approved → account_created → accepted

Decisions are taken set-wise, one item being a list of one: a list of a thousand people is decided in a
fixed number of queries — its items locked in id order, one agreement check (R1) and one directory
look-up per partner, users and invites inserted at once (`invites_create_many`), every transition
audited in one insert, and each requester told once per list (`decision_mail`). An item that cannot be decided (decided
meanwhile, no agreement, an address with an account elsewhere) is refused with its reason and the
others go ahead.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from core.audit import audit_client, audit_event, audit_record_many
from core.errors import PortalError
from core.links import absolute_url
from core.mail import MailKind, mail_kind_declare, mail_kind_recipients, mail_send_on_commit
from core.mail_render import mail_text
from directory_sync.selectors import LookupKind, LookupResult, recipient_lookups
from onboarding.errors import (
    REASON_CONTROL_CHARACTERS,
    REASON_REQUIRED,
    WRONG_STATE,
    InviteAlreadyOpen,
    OnboardingError,
)
from onboarding.models import Invite, InviteKind, ItemState, RequestItem
from onboarding.services.decision_mail import request_items_decided_notify
from onboarding.services.invites import invites_create_many
from onboarding.validators import has_control_characters
from partners.errors import AgreementMissing
from partners.models import WebhookEvent
from partners.selectors import agreement_require
from partners.services.webhooks import webhook_emit_many

logger = logging.getLogger(__name__)

REQUEST_EXPIRED = mail_kind_declare(MailKind(
    key="request_expired", order=20, audience=lambda user: user.is_partner_admin or user.is_vendor_staff,
    label=gettext_lazy("Requests that expired waiting for the directory (lists I submitted, partners I manage)"),
))

# What differs between items of one decision (the rest is shared by the items of one state).
_ITEM_OWN_FIELDS = ("user", "suggested_email")


@dataclass
class Decided:
    """What a decision on many items did: the items decided, and each item refused with why."""

    done: list[RequestItem] = field(default_factory=list)
    refused: list[tuple[RequestItem, PortalError]] = field(default_factory=list)


class _Changes:
    """The transitions of one decision, made in memory and written at the end (`write`)."""

    def __init__(self, *, actor, request):
        self.actor, self.request, self.now = actor, request, timezone.now()
        self.where = audit_client(request)  # the client's address, worked out once for every event
        self.items: dict[int, RequestItem] = {}
        self.own: dict[str, dict[int, RequestItem]] = {}
        self.events = []

    def transition(self, item: RequestItem, state: str, *, data: dict | None = None, **fields) -> None:
        item.state = state
        self.set(item, **fields)
        self.events.append(audit_event(actor=self.actor, action=f"request.item_{state}", target=item,
                                       partner=item.partner, data=data or {}, **self.where))

    def set(self, item: RequestItem, **fields) -> None:
        for name, value in fields.items():
            setattr(item, name, value)
            if name.removesuffix("_id") in _ITEM_OWN_FIELDS:
                self.own.setdefault(name.removesuffix("_id"), {})[item.pk] = item
        self.items[item.pk] = item

    def write(self) -> None:
        """One UPDATE per state reached (its items share what the decision wrote: who, when, why, until when),
        one for the fields of each item's own (its account, a suggested address) where set; one INSERT of events.
        Not bulk_update for all: a CASE per column and row costs seconds at a thousand items."""
        shared: dict[tuple, list[int]] = defaultdict(list)
        for item in self.items.values():
            key = (item.state, item.decided_by_id, item.decided_at, item.rejection_reason, item.awaiting_until)
            shared[key].append(item.pk)
        for (state, decided_by_id, decided_at, reason, awaiting_until), pks in shared.items():
            RequestItem.objects.filter(pk__in=pks).update(
                state=state, decided_by_id=decided_by_id, decided_at=decided_at, rejection_reason=reason,
                awaiting_until=awaiting_until, updated_at=self.now)
        if "user" in self.own:
            # An item's account is always its newest invite's (just created for it): read there, not sent back.
            account = Invite.objects.filter(item_id=OuterRef("pk")).order_by("-pk").values("user_id")[:1]
            RequestItem.objects.filter(pk__in=list(self.own["user"])).update(user_id=Subquery(account))
        if "suggested_email" in self.own:
            RequestItem.objects.bulk_update(list(self.own["suggested_email"].values()), ["suggested_email"])
        audit_record_many(self.events)


def _id(actor) -> int | None:
    return actor.pk if getattr(actor, "pk", None) else None


def _locked(item_ids: Iterable[int]) -> list[RequestItem]:
    # of=self: lock the items only (the joined rows may be on the nullable side of an outer join). In id
    # order, so two decisions over overlapping items wait for each other instead of deadlocking.
    # The partners, lists and requesters are read apart (prefetched): a few of each, not one per item.
    locked = RequestItem.objects.select_for_update(of=("self",)).prefetch_related("partner", "request__submitted_by")
    return list(locked.filter(pk__in=list(item_ids)).order_by("pk"))


# The word that ends "This item is …; it cannot be …" (errors.WRONG_STATE).
CANNOT_BE_APPROVED = pgettext_lazy("it cannot be …", "approved")
CANNOT_BE_REJECTED = pgettext_lazy("it cannot be …", "rejected")


def _submitted(items: list[RequestItem], action, decided: Decided) -> list[RequestItem]:
    """The items still waiting for a decision; the others (decided meanwhile) refused, saying how they stand."""
    waiting = []
    for item in items:
        if item.state == ItemState.SUBMITTED:
            waiting.append(item)
        else:
            state = item.get_state_display().lower()
            decided.refused.append((item, OnboardingError(WRONG_STATE.format(state=state, action=action))))
    return waiting


def _with_agreement(items: list[RequestItem], decided: Decided) -> list[RequestItem]:
    """R1, asked once per partner: the items of partners without a current agreement are refused."""
    missing: dict[int, AgreementMissing | None] = {}
    for item in items:
        if item.partner_id not in missing:
            try:
                agreement_require(partner=item.partner)
                missing[item.partner_id] = None
            except AgreementMissing as exc:
                missing[item.partner_id] = exc
    decided.refused += [(item, missing[item.partner_id]) for item in items if missing[item.partner_id]]
    return [item for item in items if missing[item.partner_id] is None]


def request_items_approve(*, item_ids: Iterable[int], actor, request=None) -> Decided:
    """Approve these people at once; resellers get their accounts, MSPs go through recipient validation."""
    decided = Decided()
    with transaction.atomic():
        changes = _Changes(actor=actor, request=request)
        items = _with_agreement(_submitted(_locked(item_ids), CANNOT_BE_APPROVED, decided), decided)
        resellers = [item for item in items if not item.partner.is_msp]
        answers, outcomes = _invited(changes, msps=[item for item in items if item.partner.is_msp],
                                     resellers=resellers)
        for item in items:
            outcome = outcomes.get(item.pk)
            refusal = _refusal(outcome, joins=item.partner.is_msp)
            if refusal is not None:
                decided.refused.append((item, refusal))
                continue
            changes.transition(item, ItemState.APPROVED, decided_by_id=_id(actor), decided_at=changes.now)
            if item.partner.is_msp:
                _validated(changes, item, answers[item.pk], outcome)
            else:
                # R3: no recipient validation; the account exists now, the welcome mail sets it up.
                changes.transition(item, ItemState.ACCOUNT_CREATED, user_id=outcome.user_id)
            decided.done.append(item)
        changes.write()
        request_items_decided_notify(decided.done, answers=answers)
        _decided_emit(decided.done, "approved")
    return decided


def request_items_reject(*, item_ids: Iterable[int], actor, reason: str, request=None) -> Decided:
    """Reject these people at once, with one reason the requesters see."""
    reason = (reason or "").strip()
    if not reason:
        raise OnboardingError(REASON_REQUIRED)
    if has_control_characters(reason):
        # The reason is mailed to the requester: a line break in it would forge lines of that mail.
        raise OnboardingError(REASON_CONTROL_CHARACTERS)
    decided = Decided()
    with transaction.atomic():
        changes = _Changes(actor=actor, request=request)
        for item in _submitted(_locked(item_ids), CANNOT_BE_REJECTED, decided):
            changes.transition(item, ItemState.REJECTED, data={"reason": reason}, decided_by_id=_id(actor),
                               decided_at=changes.now, rejection_reason=reason)
            decided.done.append(item)
        changes.write()
        request_items_decided_notify(decided.done)
        _decided_emit(decided.done, "rejected")
    return decided


def _decided_emit(items: list[RequestItem], decision: str) -> None:
    """The partners' webhooks hear of the decisions: one INSERT for the list, sent after commit."""
    webhook_emit_many(event=WebhookEvent.ITEM_DECIDED, items=[(item.partner_id, {
        "item_id": item.pk, "request_id": item.request_id, "email": item.display_email, "role": item.role,
        "decision": decision, "state": item.state, "reason": item.rejection_reason,
    }) for item in items])


def request_item_approve(*, item: RequestItem, actor, request=None) -> RequestItem:
    """Approve one person; resellers get their account, MSPs go through recipient validation."""
    return _one(request_items_approve(item_ids=[item.pk], actor=actor, request=request))


def request_item_reject(*, item: RequestItem, actor, reason: str, request=None) -> RequestItem:
    """Reject one person, with a reason the requester sees."""
    return _one(request_items_reject(item_ids=[item.pk], actor=actor, reason=reason, request=request))


def _one(decided: Decided) -> RequestItem:
    if decided.refused:
        raise decided.refused[0][1]
    return decided.done[0]


def recipient_validate(*, item: RequestItem, actor=None, request=None) -> RequestItem:
    """R4/R7/R9: invite a primary address of an enabled person; suggest the primary for an alias or
    forwarding address; hold anyone not (yet) on the account. Call with the item locked."""
    agreement_require(partner=item.partner)
    changes = _Changes(actor=actor, request=request)
    for _, refusal in _recipients_validated(changes, [item]):
        raise refusal
    changes.write()
    return item


def _recipients_validated(changes: _Changes, items: list[RequestItem]) -> list[tuple[RequestItem, PortalError]]:
    """`recipient_validate`'s transitions for many MSP items at once; the items that cannot be invited (an account
    of theirs in use, or another partner's) are left as they are and returned with why."""
    answers, outcomes = _invited(changes, msps=items, resellers=[])
    refused = []
    for item in items:
        refusal = _refusal(outcomes.get(item.pk), joins=True)
        if refusal is not None:
            refused.append((item, refusal))
        else:
            _validated(changes, item, answers[item.pk], outcomes.get(item.pk))
    return refused


def _invited(changes: _Changes, *, msps: list[RequestItem], resellers: list[RequestItem]):
    """The directory's answer for each MSP item (one look-up per partner), and the invite created (or the
    open one found, or the refusal) for each reseller item and each MSP item with a primary address."""
    answers: dict[int, LookupResult] = {}
    by_partner = defaultdict(list)
    for item in msps:
        by_partner[item.partner_id].append(item)
    for partner_id, items in by_partner.items():
        found = recipient_lookups(partner_id=partner_id, addresses=[item.email for item in items])
        answers |= {item.pk: found[item.email] for item in items}
    wanted = [(item, InviteKind.WELCOME) for item in resellers]
    wanted += [(item, InviteKind.INVITE) for item in msps if answers[item.pk].kind == LookupKind.PRIMARY]
    return answers, invites_create_many(wanted=wanted, actor=changes.actor, request=changes.request)


def _refusal(outcome, *, joins: bool) -> PortalError | None:
    """Why an item cannot be decided given its invite's outcome (None: it can). An MSP item joins the person's
    open invitation (asked for twice, on two lists); a reseller's cannot."""
    if outcome is None or isinstance(outcome, Invite):
        return None
    if isinstance(outcome, InviteAlreadyOpen) and joins:
        return None
    return outcome


def _validated(changes: _Changes, item: RequestItem, answer: LookupResult, outcome) -> None:
    """The transitions of an MSP item after the directory answered (R4, R7, R9)."""
    if answer.kind == LookupKind.PRIMARY:
        changes.transition(item, ItemState.VALIDATED, data={"person": answer.person.external_id})
        if isinstance(outcome, Invite):
            changes.set(item, user_id=outcome.user_id)
        else:
            # Asked for twice (two lists): the person's open invitation serves both requests.
            changes.transition(item, ItemState.INVITED, data={"invite": outcome.invite.pk})
    elif answer.kind in (LookupKind.ALIAS, LookupKind.FORWARDING):
        changes.transition(item, ItemState.INVALID_ADDRESS, suggested_email=answer.primary_address,
                           data={"kind": answer.kind, "primary": answer.primary_address})
    elif item.state != ItemState.AWAITING_VALIDATION:
        days = settings.AWAITING_VALIDATION_EXPIRY_DAYS
        changes.transition(item, ItemState.AWAITING_VALIDATION, data={"lookup": answer.kind},
                           awaiting_until=changes.now + datetime.timedelta(days=days))


def held_items_recheck(*, partner_id: int) -> int:
    """After a successful directory sync: check the people held for recipient validation again, all at once (one
    directory look-up, one agreement check). One who cannot be invited stays held, logged, and holds up no one."""
    with transaction.atomic():
        held = RequestItem.objects.filter(partner_id=partner_id, state=ItemState.AWAITING_VALIDATION)
        items = [item for item in _locked(held.values_list("pk", flat=True))
                 if item.state == ItemState.AWAITING_VALIDATION]
        if not items:
            return 0
        try:
            agreement_require(partner=items[0].partner)
        except AgreementMissing:
            logger.exception("held requests of partner %s could not be released", partner_id)
            return 0
        changes = _Changes(actor=None, request=None)
        for item, refusal in _recipients_validated(changes, items):
            logger.warning("held request item %s could not be released: %s", item.pk, refusal)
        changes.write()
    return sum(item.state != ItemState.AWAITING_VALIDATION for item in items)


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
            changes = _Changes(actor=None, request=None)
            changes.transition(item, ItemState.EXPIRED, data={"awaited_since": item.decided_at.isoformat()})
            changes.write()
            context = {"item": item, "partner": item.partner, "days": settings.AWAITING_VALIDATION_EXPIRY_DAYS,
                       "person_url": absolute_url("onboarding:person_timeline", item.partner.slug, item.pk),
                       "notifications_url": absolute_url("accounts:notifications")}
            subject = mail_text(gettext_lazy("Portal request for %(email)s expired"), email=item.display_email)
            people = [item.request.submitted_by, item.partner.account_manager]
            for to in sorted({user.display_email for user in mail_kind_recipients(kind=REQUEST_EXPIRED,
                                                                                    users=people)}):
                mail_send_on_commit(to=to, subject=subject, template="request_item_expired", context=context,
                                    partner=item.partner)
            expired += 1
    return expired
