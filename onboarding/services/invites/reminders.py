"""One reminder for an invitation not yet accepted, INVITE_REMINDER_DAYS after its mail went out (beat runs it).

The reminder repeats the link the person already has; it neither reveals nor changes anything stored. The token
is never stored (only its hash), but it is derived from the invite's nonce and the SECRET_KEY (`invite_token`),
so the same link can be rebuilt — and is checked against the stored hash first. A reminder therefore never
invalidates the link in the first mail (unlike a resend, which makes a new one on purpose). Where the link cannot
be rebuilt (the SECRET_KEY changed since the invite was mailed), the reminder goes without a link, pointing at
the first mail and at the account manager, rather than killing a link the person may be about to use.

Exactly one reminder per link: each batch is claimed in one transaction — the due rows locked with SKIP LOCKED
(a second worker takes other rows, or none) and marked `reminded_at` — and the mails are queued on its commit.
The mail carries the link, so like the invitation itself it is not stored in the outbox: a broker that loses
the message loses the reminder, and it is not sent again (at most once, never twice). A resend clears the mark:
a new link may be reminded of once in its turn.
"""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.audit import audit_event, audit_record_many
from core.links import absolute_url
from core.mail import mail_send_on_commit
from core.mail_render import mail_text
from directory_sync.selectors import recipient_lookups
from onboarding.models import Invite, InviteKind, InviteState
from onboarding.selectors import token_hash
from onboarding.services.invites.sending import invite_link, invite_token
from partners.errors import AgreementMissing
from partners.selectors import agreement_require

BATCH = 200  # invites claimed per transaction
# A link that dies within this long is not worth a reminder: the person could not act on it in time.
LEFT_AT_LEAST = datetime.timedelta(hours=12)


def invites_remind(*, now: datetime.datetime | None = None) -> int:
    """Remind each open invite whose mail went out at least INVITE_REMINDER_DAYS ago and whose link still has a
    while to live, once; how many were reminded. Partners without a current agreement (R1) are passed over."""
    now = now or timezone.now()
    reminded, after = 0, 0
    while True:
        count, after = _remind_batch(now=now, after=after)
        reminded += count
        if after is None:
            return reminded


def _due(now: datetime.datetime):
    return Invite.objects.filter(
        state=InviteState.SENT, reminded_at__isnull=True,
        sent_at__lte=now - datetime.timedelta(days=settings.INVITE_REMINDER_DAYS),
        expires_at__gt=now + LEFT_AT_LEAST,
    )


def _remind_batch(*, now: datetime.datetime, after: int) -> tuple[int, int | None]:
    """Claim and remind one batch of due invites past id `after`; (reminded, the last id seen or None at the end)."""
    with transaction.atomic():
        batch = list(_due(now).filter(pk__gt=after).select_for_update(of=("self",), skip_locked=True)
                     .select_related("partner__account_manager").order_by("pk")[:BATCH])
        if not batch:
            return 0, None
        current: dict[int, bool] = {}
        for invite in batch:
            if invite.partner_id not in current:
                try:
                    agreement_require(partner=invite.partner)
                    current[invite.partner_id] = True
                except AgreementMissing:
                    current[invite.partner_id] = False
        gone = _people_gone([invite for invite in batch if current[invite.partner_id]])
        claimed = [invite for invite in batch if current[invite.partner_id] and invite.pk not in gone]
        Invite.objects.filter(pk__in=[invite.pk for invite in claimed]).update(reminded_at=now)
        audit_record_many([audit_event(actor=None, action=f"{invite.kind}.reminded", target=invite,
                                       partner=invite.partner) for invite in claimed])
        for invite in claimed:
            _mail(invite)
    return len(claimed), batch[-1].pk


def _people_gone(invites: list[Invite]) -> set[int]:
    """The invitations (ids) whose person is no longer a primary address of an enabled person of the partner's
    directory: their acceptance would be refused (R4, R7), so no reminder invites them to try. Two queries per
    partner of the batch, whatever its size."""
    by_partner: dict[int, list[Invite]] = defaultdict(list)
    for invite in invites:
        if invite.kind == InviteKind.INVITE:
            by_partner[invite.partner_id].append(invite)
    gone = set()
    for partner_id, partner_invites in by_partner.items():
        answers = recipient_lookups(partner_id=partner_id, addresses=[invite.email for invite in partner_invites])
        gone |= {invite.pk for invite in partner_invites if not answers[invite.email].is_primary}
    return gone


def _mail(invite: Invite) -> None:
    token = invite_token(invite) if invite.token_nonce else ""
    usable = bool(token) and token_hash(token) == invite.token_hash
    manager = invite.partner.account_manager
    context = {"invite": invite, "partner": invite.partner, "welcome": invite.kind == InviteKind.WELCOME,
               "link": invite_link(token) if usable else "", "code": token if usable else "",
               "code_url": absolute_url("onboarding:invite_open"), "manager": manager}
    subject = (gettext_lazy("Reminder: your invitation to the Partner Portal (%(partner)s)")
               if invite.kind == InviteKind.INVITE
               else gettext_lazy("Reminder: your Partner Portal account is ready (%(partner)s)"))
    # Not durable: the body holds the link, and the outbox never stores a secret.
    mail_send_on_commit(to=invite.display_email, subject=mail_text(subject, partner=invite.partner),
                        template="invite_reminder", context=context, partner=invite.partner, durable=False)
