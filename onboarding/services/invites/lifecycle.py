"""An invite's life apart from its mail: created with its person, resent, revoked, expired, renewal asked for.

Two account managers may approve the same person (on two lists) at the same moment: the inserts of
the person's user and invite then run in savepoints, and the one that loses reads the winner's row
instead of failing on the unique constraint.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext

from accounts.models import Role, User
from core.audit import audit_record
from core.emails import normalize_email
from core.links import absolute_url
from core.mail import mail_send_on_commit
from core.mail_render import mail_text
from onboarding.errors import ALREADY_OPEN_INVITE, HAS_ACCESS, INVITE_NOT_OPEN, InviteAlreadyOpen, OnboardingError
from onboarding.models import OPEN_INVITE_STATES, Invite, InviteKind, InviteState, ItemState, RequestItem
from onboarding.services.invites.sending import invite_send_queue
from partners.models import Partner
from partners.selectors import agreement_require

# What expires at its time: a link that is out (or may be, while its mail is being sent), or a failed one.
EXPIRING_STATES = (InviteState.SENDING, InviteState.SENT, InviteState.FAILED)
RESENDABLE_STATES = (*OPEN_INVITE_STATES, InviteState.EXPIRED)


def portal_user_prepare(*, partner: Partner, email: str, name: str, role: str = Role.PARTNER_STAFF) -> User:
    """The (not yet active) portal user an invite leads to, with the role asked for; activated when the invite is
    accepted. A person asked for again keeps their account (and the role they had)."""
    address = normalize_email(email)
    user = User.objects.filter(email=address).first()
    if user is None:
        user = _user_create(partner=partner, email=email, name=name, address=address, role=role)
    if user.is_active or user.partner_id != partner.pk:
        # Never hand an existing account (another partner's, or one in use) to an invitation.
        raise OnboardingError(HAS_ACCESS.format(email=email))
    return user


def _user_create(*, partner: Partner, email: str, name: str, address: str, role: str) -> User:
    try:
        # A savepoint: a concurrent approval may insert the same person first; then take theirs. Its
        # commit shows as the unique index refusing the insert (it committed while this one waited),
        # or as create_user's validation finding the address taken (it committed just before).
        with transaction.atomic():
            return User.objects.create_user(
                email, None, full_name=name, role=role, partner=partner, is_active=False
            )
    except (IntegrityError, ValidationError):
        user = User.objects.filter(email=address).first()
        if user is None:
            raise  # not the address taken meanwhile: a real error
        return user


def _open_invite(partner: Partner, address: str) -> Invite | None:
    return Invite.objects.filter(partner=partner, email=address, state__in=OPEN_INVITE_STATES).first()


def invite_create(
    *, partner: Partner, email: str, name: str, kind: str = InviteKind.INVITE, item: RequestItem | None = None,
    actor=None, request=None,
) -> Invite:
    """Create an invite (one open per person and partner) and queue its mail for after commit.

    Raises InviteAlreadyOpen, naming the open invite, when the person has one already — also when a
    concurrent transaction created it a moment earlier."""
    agreement_require(partner=partner)  # R1: nobody is invited without a current agreement
    address = normalize_email(email)
    existing = _open_invite(partner, address)
    if existing is not None:
        raise InviteAlreadyOpen(existing, email=email, partner=partner)
    user = portal_user_prepare(partner=partner, email=email, name=name,
                               role=item.role if item is not None else Role.PARTNER_STAFF)
    try:
        with transaction.atomic():  # a savepoint, for the same race as the user's
            invite = Invite.objects.create(
                partner=partner, item=item, user=user, kind=kind, email=address, display_email=email, name=name,
                expires_at=timezone.now() + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS),
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        existing = _open_invite(partner, address)
        if existing is None:
            raise
        raise InviteAlreadyOpen(existing, email=email, partner=partner) from None
    audit_record(actor=actor, action=f"{kind}.created", target=invite, partner=partner, request=request,
                 data={"item": item.pk if item else None})
    invite_send_queue(invite)
    return invite


def invite_resend(*, invite: Invite, actor, request=None) -> Invite:
    """A new link and a fresh expiry, tried from the first try again; the old link stops working at once."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).select_related("partner").get(pk=invite.pk)
        agreement_require(partner=invite.partner)  # R1: no new link without a current agreement
        if invite.state not in RESENDABLE_STATES:
            raise OnboardingError(INVITE_NOT_OPEN.format(state=invite.get_state_display().lower(),
                                                         action=pgettext("it cannot be …", "resent")))
        if invite.state == InviteState.EXPIRED and Invite.objects.filter(
            partner=invite.partner, email=invite.email, state__in=OPEN_INVITE_STATES
        ).exists():
            raise OnboardingError(ALREADY_OPEN_INVITE.format(email=invite.display_email, partner=invite.partner))
        now = timezone.now()
        # No nonce, no hash: the next claim makes a new nonce. A send in flight still mails the old
        # link (dead now) and cannot mark this invite sent: its nonce no longer matches.
        invite.state = InviteState.PENDING
        invite.token_hash = None
        invite.token_nonce = ""
        invite.sent_at = None
        invite.send_attempts = 0
        invite.next_attempt_at = now
        invite.renewal_requested_at = None
        invite.reminded_at = None  # a new link: reminded of once in its turn
        invite.expires_at = now + datetime.timedelta(days=settings.INVITE_EXPIRY_DAYS)
        invite.save()
        audit_record(actor=actor, action=f"{invite.kind}.resent", target=invite, partner=invite.partner,
                     request=request)
        invite_send_queue(invite)
    return invite


def invite_revoke(*, invite: Invite, actor, request=None) -> Invite:
    """Revoke an open invite (also one being sent): its link dies, its item ends revoked."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).get(pk=invite.pk)
        if invite.state not in RESENDABLE_STATES:
            raise OnboardingError(INVITE_NOT_OPEN.format(state=invite.get_state_display().lower(),
                                                         action=pgettext("it cannot be …", "revoked")))
        invite.state = InviteState.REVOKED
        invite.token_hash = None
        invite.token_nonce = ""
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["state", "token_hash", "token_nonce", "revoked_at"])
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
    for invite in Invite.objects.filter(state__in=EXPIRING_STATES, expires_at__lte=now):
        with transaction.atomic():
            locked = Invite.objects.select_for_update(of=("self",)).get(pk=invite.pk)
            if locked.state not in EXPIRING_STATES:
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
                to=manager.display_email,
                subject=mail_text(gettext_lazy("%(email)s asks for a new portal invitation"),
                                  email=invite.display_email),
                template="invite_renewal_requested", partner=invite.partner,
                context={"invite": invite,
                         "invites_url": absolute_url("onboarding:partner_detail", invite.partner.slug)},
            )
