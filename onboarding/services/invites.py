"""Invites and welcome links: created with their person, mailed exactly once, resent, revoked, renewed.

The token exists in clear only in the mail: the database keeps its SHA-256. It is made by the
send step itself, under a row lock, so a send task that runs twice (a retry, a duplicate
delivery) finds the invite already sent and does nothing: one mail per invite.
"""

import datetime
import secrets

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Role, User
from core.audit import audit_record
from core.emails import normalize_email
from core.links import absolute_url
from core.mail import mail_send_on_commit
from core.queue import enqueue_on_commit
from onboarding.errors import ALREADY_OPEN_INVITE, HAS_ACCESS, INVITE_NOT_OPEN, OnboardingError
from onboarding.models import OPEN_INVITE_STATES, Invite, InviteKind, InviteState, ItemState, RequestItem
from onboarding.selectors import token_hash
from partners.models import Partner
from partners.selectors import agreement_require

SEND_TASK = "onboarding.send_invite"  # onboarding.tasks.send_invite, queued by name (it calls invite_send)


def invite_link(token: str) -> str:
    return absolute_url("onboarding:invite_accept", token)


def _enqueue_send(invite: Invite) -> None:
    enqueue_on_commit(SEND_TASK, invite.pk)


def portal_user_prepare(*, partner: Partner, email: str, name: str) -> User:
    """The (not yet active) portal user an invite leads to; activated when the invite is accepted."""
    address = normalize_email(email)
    user = User.objects.filter(email=address).first()
    if user is not None and (user.is_active or user.partner_id != partner.pk):
        # Never hand an existing account (another partner's, or one in use) to an invitation.
        raise OnboardingError(HAS_ACCESS.format(email=email))
    if user is None:
        user = User.objects.create_user(
            email, None, full_name=name, role=Role.PARTNER_STAFF, partner=partner, is_active=False
        )
    return user


def invite_create(
    *, partner: Partner, email: str, name: str, kind: str = InviteKind.INVITE, item: RequestItem | None = None,
    actor=None, request=None,
) -> Invite:
    """Create an invite (one open per person and partner) and queue its mail for after commit."""
    address = normalize_email(email)
    if Invite.objects.filter(partner=partner, email=address, state__in=OPEN_INVITE_STATES).exists():
        raise OnboardingError(ALREADY_OPEN_INVITE.format(email=email, partner=partner))
    user = portal_user_prepare(partner=partner, email=email, name=name)
    invite = Invite.objects.create(
        partner=partner, item=item, user=user, kind=kind, email=address, display_email=email, name=name,
        expires_at=timezone.now() + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action=f"{kind}.created", target=invite, partner=partner, request=request,
                 data={"item": item.pk if item else None})
    _enqueue_send(invite)
    return invite


def invite_send(*, invite_id: int) -> bool:
    """Mail a pending invite once; True when this call sent it.

    Runs in the worker. The row lock and the state make a second run a no-op; an SMTP error
    rolls the transaction back (nothing marked sent, no token kept) and the task retries.
    """
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).select_related("partner").filter(pk=invite_id).first()
        if invite is None or invite.state != InviteState.PENDING:
            return False
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        invite.token_hash = token_hash(token)
        invite.state = InviteState.SENT
        invite.sent_at = now
        invite.send_attempts += 1
        invite.last_error = ""
        invite.save(update_fields=["token_hash", "state", "sent_at", "send_attempts", "last_error"])
        if invite.item_id:
            RequestItem.objects.filter(pk=invite.item_id).exclude(state=ItemState.ACCEPTED).update(
                state=ItemState.INVITED if invite.kind == InviteKind.INVITE else ItemState.ACCOUNT_CREATED
            )
        audit_record(actor=None, action=f"{invite.kind}.sent", target=invite, partner=invite.partner,
                     data={"attempt": invite.send_attempts})
        _mail(invite, token)  # last: if it raises, everything above rolls back
    return True


def _mail(invite: Invite, token: str) -> None:
    template = "invite" if invite.kind == InviteKind.INVITE else "welcome"
    context = {"invite": invite, "link": invite_link(token), "days": settings.INVITE_EXPIRY_DAYS,
               "partner": invite.partner}
    subject = (f"Your invitation to the Partner Portal ({invite.partner})" if invite.kind == InviteKind.INVITE
               else f"Your Partner Portal account is ready ({invite.partner})")
    EmailMessage(subject=subject, body=render_to_string(f"mail/{template}.txt", context),
                 from_email=settings.DEFAULT_FROM_EMAIL, to=[invite.display_email]).send()


def invite_send_failed(*, invite_id: int, error: str, attempts: int = 1) -> None:
    """After the last retry: the invite is marked failed (an account manager can resend it)."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).filter(pk=invite_id, state=InviteState.PENDING).first()
        if invite is None:
            return
        invite.state = InviteState.FAILED
        invite.last_error = error[:2000]
        invite.send_attempts = attempts  # the failed tries rolled back their own count
        invite.save(update_fields=["state", "last_error", "send_attempts"])
        audit_record(actor=None, action=f"{invite.kind}.send_failed", target=invite, partner=invite.partner,
                     data={"error": error[:500]})


def invite_resend(*, invite: Invite, actor, request=None) -> Invite:
    """A new link and a fresh expiry; the old link stops working at once."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).select_related("partner").get(pk=invite.pk)
        agreement_require(partner=invite.partner)  # R1: no new link without a current agreement
        if invite.state not in (InviteState.SENT, InviteState.FAILED, InviteState.EXPIRED, InviteState.PENDING):
            raise OnboardingError(INVITE_NOT_OPEN.format(state=invite.get_state_display().lower(), action="resent"))
        if invite.state == InviteState.EXPIRED and Invite.objects.filter(
            partner=invite.partner, email=invite.email, state__in=OPEN_INVITE_STATES
        ).exists():
            raise OnboardingError(ALREADY_OPEN_INVITE.format(email=invite.display_email, partner=invite.partner))
        invite.state = InviteState.PENDING
        invite.token_hash = None
        invite.sent_at = None
        invite.renewal_requested_at = None
        invite.expires_at = timezone.now() + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS)
        invite.save()
        audit_record(actor=actor, action=f"{invite.kind}.resent", target=invite, partner=invite.partner,
                     request=request)
        _enqueue_send(invite)
    return invite


def invite_revoke(*, invite: Invite, actor, request=None) -> Invite:
    """Revoke an open invite: its link dies, its item ends revoked."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).get(pk=invite.pk)
        if invite.state not in (*OPEN_INVITE_STATES, InviteState.EXPIRED):
            raise OnboardingError(INVITE_NOT_OPEN.format(state=invite.get_state_display().lower(), action="revoked"))
        invite.state = InviteState.REVOKED
        invite.token_hash = None
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["state", "token_hash", "revoked_at"])
        person_items(invite).filter(state=ItemState.INVITED).update(state=ItemState.REVOKED)
        audit_record(actor=actor, action=f"{invite.kind}.revoked", target=invite, partner=invite.partner,
                     request=request)
    return invite


def person_items(invite: Invite):
    """The request items an invite serves: its own, and the same person asked for in other lists."""
    return RequestItem.objects.filter(Q(pk=invite.item_id) | Q(partner_id=invite.partner_id, email=invite.email))


def invites_expire(*, now: datetime.datetime | None = None) -> int:
    """Mark open invites past their expiry as expired (beat runs this)."""
    now = now or timezone.now()
    expired = 0
    for invite in Invite.objects.filter(state__in=(InviteState.SENT, InviteState.FAILED), expires_at__lte=now):
        with transaction.atomic():
            locked = Invite.objects.select_for_update(of=("self",)).get(pk=invite.pk)
            if locked.state not in (InviteState.SENT, InviteState.FAILED):
                continue
            # The hash stays: an expired link is still recognised, to offer "ask for a new invite".
            locked.state = InviteState.EXPIRED
            locked.save(update_fields=["state"])
            audit_record(actor=None, action=f"{locked.kind}.expired", target=locked, partner=locked.partner)
            expired += 1
    return expired


def invite_renewal_request(*, invite: Invite, request=None) -> None:
    """From an expired link: ask the account manager for a new invite (once)."""
    with transaction.atomic():
        invite = (
            Invite.objects.select_for_update(of=("self",)).select_related("partner__account_manager").get(pk=invite.pk)
        )
        if invite.renewal_requested_at is not None or not invite.is_expired():
            return  # asked already, or the link still works: nothing to ask for
        invite.renewal_requested_at = timezone.now()
        invite.save(update_fields=["renewal_requested_at"])
        audit_record(actor=None, action=f"{invite.kind}.renewal_requested", target=invite, partner=invite.partner,
                     request=request)
        manager = invite.partner.account_manager
        if manager is not None:
            mail_send_on_commit(
                to=manager.display_email, subject=f"{invite.display_email} asks for a new portal invitation",
                template="invite_renewal_requested", partner=invite.partner,
                context={"invite": invite,
                         "invites_url": absolute_url("onboarding:partner_detail", invite.partner.slug)},
            )
