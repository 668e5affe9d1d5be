"""Invites for a list's worth of people at once: `invite_create` set-wise, in a fixed number of queries.

The same rules as one at a time — one open invite per person and partner, never an existing account
(another partner's, or one in use) handed to an invitation — and the same race: two account managers
approving the same person on two lists at once. Here the inserts say INSERT … ON CONFLICT DO NOTHING
(PostgreSQL waits for the other transaction, then skips the row it committed) and the rows are read
again, so the one that loses takes the winner's user and sees the winner's invite. Rows are inserted
in a stable order (by address), so two such approvals wait for each other instead of deadlocking.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from core.audit import audit_client, audit_event, audit_record_many
from core.errors import ConcurrentChange
from onboarding.errors import HAS_ACCESS, InviteAlreadyOpen, OnboardingError
from onboarding.models import OPEN_INVITE_STATES, Invite, RequestItem
from onboarding.services.invites.sending import invites_send_queue

Outcome = Invite | OnboardingError | ConcurrentChange


def invites_create_many(
    *, wanted: list[tuple[RequestItem, str]], actor=None, request=None,
) -> dict[int, Outcome]:
    """For each (item, kind): the invite created for it, or why not — InviteAlreadyOpen naming the person's
    open invite (also one created for an earlier item of the same batch, or by a concurrent approval), or a
    refusal (HAS_ACCESS). Audited, each mail queued after commit. Call with the items locked."""
    if not wanted:
        return {}
    wanted = sorted(wanted, key=lambda pair: pair[0].pk)
    emails = {item.email for item, _ in wanted}
    open_before = _open_invites({item.partner_id for item, _ in wanted}, emails)
    users = _accounts(emails)
    outcome: dict[int, Outcome] = {}
    claims: dict[tuple[int, str], RequestItem] = {}  # the first item of each person in this batch
    for item, _ in wanted:
        key = (item.partner_id, item.email)
        if key in open_before:
            outcome[item.pk] = InviteAlreadyOpen(open_before[key], email=item.display_email, partner=item.partner)
        elif key not in claims:
            if (refusal := _refusal(item, users.get(item.email))) is not None:
                outcome[item.pk] = refusal
            else:
                claims[key] = item
    users |= _users_created([item for item in claims.values() if item.email not in users])
    kinds = {item.pk: kind for item, kind in wanted}
    inserts = []
    for _, item in sorted(claims.items(), key=lambda pair: pair[0]):
        account = users.get(item.email)
        refusal = ConcurrentChange() if account is None else _refusal(item, account)
        if refusal is not None:
            # A concurrent approval made the address another partner's (or it is active already).
            outcome[item.pk] = refusal
            continue
        inserts.append(_invite(item, account.pk, kinds[item.pk], actor))
    Invite.objects.bulk_create(inserts, ignore_conflicts=True)
    created = _settled(inserts, claims, outcome)
    for item, _ in wanted:
        if item.pk not in outcome:
            outcome[item.pk] = _as_first(item, outcome[claims[(item.partner_id, item.email)].pk])
    _created_record(created, actor=actor, request=request)
    return outcome


def _settled(inserts: list[Invite], claims: dict[tuple[int, str], RequestItem], outcome: dict[int, Outcome]):
    """After the inserts: which invites are ours (read back by person: ON CONFLICT DO NOTHING returns no ids), and
    for the others whose invite was committed first. Returns ours, with their ids."""
    if not inserts:
        return []
    rows = Invite.objects.filter(partner_id__in={i.partner_id for i in inserts}, email__in={i.email for i in inserts},
                                 state__in=OPEN_INVITE_STATES).values_list("pk", "partner_id", "email", "item_id")
    # The filter is by partners and by addresses: another partner's invite of an address in the batch is no concern.
    current = {(partner_id, email): (pk, item_id) for pk, partner_id, email, item_id in rows
               if (partner_id, email) in claims}
    others = {pk for key, (pk, item_id) in current.items() if item_id != claims[key].pk}
    theirs = Invite.objects.in_bulk(list(others)) if others else {}
    created = []
    for invite in inserts:
        key = (invite.partner_id, invite.email)
        item = claims[key]
        if key not in current:
            outcome[item.pk] = ConcurrentChange()  # refused by a constraint, yet no open invite: try again
        elif current[key][1] == item.pk:
            invite.pk, invite._state.adding, invite._state.db = current[key][0], False, Invite.objects.db
            invite.item, invite.partner = item, item.partner
            outcome[item.pk] = invite
            created.append(invite)
        else:  # a concurrent approval of the same person committed its invite first
            outcome[item.pk] = InviteAlreadyOpen(theirs[current[key][0]], email=item.display_email,
                                                 partner=item.partner)
    return created


def _open_invites(partner_ids: set[int], emails: set[str]) -> dict[tuple[int, str], Invite]:
    rows = Invite.objects.filter(partner_id__in=partner_ids, email__in=emails, state__in=OPEN_INVITE_STATES)
    return {(invite.partner_id, invite.email): invite for invite in rows}


@dataclass(frozen=True)
class _Account:
    pk: int
    is_active: bool
    partner_id: int | None


def _accounts(emails: set[str]) -> dict[str, _Account]:
    """The portal accounts of these addresses: what decides whether one may be handed to an invitation."""
    rows = User.objects.filter(email__in=emails).values_list("email", "pk", "is_active", "partner_id")
    return {email: _Account(pk, active, partner_id) for email, pk, active, partner_id in rows}


def _refusal(item: RequestItem, account: _Account | None) -> OnboardingError | None:
    # Never hand an existing account (another partner's, or one in use) to an invitation.
    if account is not None and (account.is_active or account.partner_id != item.partner_id):
        return OnboardingError(HAS_ACCESS.format(email=item.display_email))
    return None


def _users_created(items: list[RequestItem]) -> dict[str, _Account]:
    """The (not yet active) portal users of these items' people, inserted unless a concurrent approval did
    first, and read back (theirs or ours)."""
    if not items:
        return {}
    new = {}
    for item in sorted(items, key=lambda i: i.email):
        user = User(email=item.email, display_email=item.display_email.strip(), full_name=item.name,
                    role=item.role, partner_id=item.partner_id, is_active=False)
        user.set_unusable_password()
        new.setdefault(item.email, user)
    User.objects.bulk_create(list(new.values()), ignore_conflicts=True)
    return _accounts(set(new))


def _invite(item: RequestItem, user_id: int, kind: str, actor) -> Invite:
    return Invite(
        partner_id=item.partner_id, item=item, user_id=user_id, kind=kind, email=item.email,
        display_email=item.display_email, name=item.name,
        expires_at=timezone.now() + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS),
        created_by_id=actor.pk if getattr(actor, "pk", None) else None,
    )


def _as_first(item: RequestItem, first: Outcome) -> Outcome:
    """A later item of a person this batch asked for already: the first one's invite is open for them."""
    if isinstance(first, Invite):
        return InviteAlreadyOpen(first, email=item.display_email, partner=item.partner)
    if isinstance(first, InviteAlreadyOpen):
        return InviteAlreadyOpen(first.invite, email=item.display_email, partner=item.partner)
    if isinstance(first, OnboardingError):
        return OnboardingError(HAS_ACCESS.format(email=item.display_email))
    return first


def _created_record(created: list[Invite], *, actor, request) -> None:
    """Audit the new invites and queue their mail after commit (through one broker connection; the sweeper
    covers what the broker did not take)."""
    where = audit_client(request)
    audit_record_many([
        audit_event(actor=actor, action=f"{invite.kind}.created", target=invite, partner=invite.partner,
                    data={"item": invite.item_id}, **where)
        for invite in created
    ])
    invites_send_queue([invite.pk for invite in created])
