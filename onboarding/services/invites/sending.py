"""Mailing an invite in two steps, like the outbox: claimed (committed), handed to SMTP, marked sent.

The token is never stored: the claim stores a random nonce and the token's SHA-256, and the
token is derived from the nonce with the SECRET_KEY (`invite_token`). So a send that is tried
again — after an SMTP failure, or by the sweeper after a worker died mid-send — mails the same
link as any earlier try, and every mail that reaches the person works. At most one mail per
invite goes out, except when a worker is killed after the SMTP server accepted the message and
before the *sent* mark committed: then the same link arrives twice.

The rules of retries and staleness are core's (`retry_delay`, `stale_after`), shared with the
outbox; the database counts the tries, so a redelivered task cannot start the count over. The
steps are public (`invite_send_claim`, `invite_send_finish`) so that crash drills can stop a send
between them; `invites_sweep` takes its clock as an argument for the same reason.
"""

import base64
import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from core.audit import audit_record
from core.languages import in_recipient_language
from core.links import absolute_url
from core.mail import SWEEP_BATCH, TRANSIENT, MailDeferred, retry_delay, stale_after
from core.mail_render import mail_message, mail_render
from core.queue import enqueue, enqueue_many, enqueue_on_commit
from onboarding.errors import INVITE_SEND_ABANDONED
from onboarding.models import Invite, InviteKind, InviteState, ItemState, RequestItem
from onboarding.selectors import token_hash
from onboarding.services.invites.notices import invite_failed_notify
from partners.models import WebhookEvent
from partners.services.webhooks import webhook_emit

SEND_TASK = "onboarding.send_invite"  # onboarding.tasks.send_invite, queued by name (it calls invite_send)
FAN_OUT_TASK = "onboarding.send_invites"  # onboarding.tasks.send_invites (it calls invites_send_fan_out)
FAN_OUT_ABOVE = 20  # invites queued one by one from the request; more are queued by a worker
# A retry's countdown and the database's clock may disagree by a moment: a pending invite is due that early.
EARLY = datetime.timedelta(seconds=1)


def invite_token(invite: Invite) -> str:
    """The token of an invite's link: an HMAC of its nonce, so every try of one send mails the same link."""
    message = f"invite:{invite.pk}:{invite.token_nonce}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def invite_link(token: str) -> str:
    """The absolute URL of an invitation: the token rides in the fragment (/invite/#TOKEN), which browsers
    never send to a server, so no access log, proxy or Referer header ever holds it."""
    return f"{absolute_url('onboarding:invite_open')}#{token}"


def invite_send_queue(invite: Invite) -> None:
    """Queue the invite's send for after commit; should the broker lose it, the sweeper queues it again."""
    enqueue_on_commit(SEND_TASK, invite.pk)


def invites_send_queue(invite_ids: list[int]) -> None:
    """Queue the sends of many invites for after commit. A few are queued one by one; more go to a worker
    as one message that queues them there (`invites_send_fan_out`), so a thousand-person approval publishes
    one message, not a thousand, before its page answers. Lost messages are the sweeper's, as ever."""
    if not invite_ids:
        return
    if len(invite_ids) <= FAN_OUT_ABOVE:
        calls = [(pk,) for pk in invite_ids]
        transaction.on_commit(lambda: enqueue_many(SEND_TASK, calls))
    else:
        enqueue_on_commit(FAN_OUT_TASK, list(invite_ids))


def invites_send_fan_out(*, invite_ids: list[int]) -> int:
    """In a worker: queue each invite's send through one broker connection; how many the broker took."""
    return enqueue_many(SEND_TASK, [(pk,) for pk in invite_ids])


def invite_send(*, invite_id: int) -> bool:
    """Mail an invite that is due; True when this call mailed it, False when there was nothing to do.

    Raises MailDeferred when the SMTP server refused or could not be reached and the invite will
    be tried again (the caller may schedule that try); after the last try it is marked failed.
    """
    invite = invite_send_claim(invite_id=invite_id)
    if invite is None:
        return False
    try:
        _mail(invite, invite_token(invite))
    except TRANSIENT as exc:
        _attempt_failed(invite, f"{exc.__class__.__name__}: {exc}")
        return False
    except Exception as exc:
        # Not a passing SMTP trouble (a broken template, a bug): another try would fail the same way.
        _attempt_failed(invite, f"{exc.__class__.__name__}: {exc}", final=True)
        raise
    invite_send_finish(invite=invite)
    return True


def _due(invite: Invite, now: datetime.datetime) -> bool:
    # A pending invite is due at its time; a sending one only once its claim went stale (its worker died).
    if invite.state == InviteState.PENDING:
        return invite.next_attempt_at <= now + EARLY
    return invite.state == InviteState.SENDING and invite.next_attempt_at <= now


def invite_send_claim(*, invite_id: int) -> Invite | None:
    """Step one, committed before SMTP: the invite is this worker's to mail, with its nonce and hash
    stored; None when it is sent, closed, not due, or being mailed by a worker that is alive."""
    now = timezone.now()
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).select_related("partner").filter(pk=invite_id).first()
        if invite is None or not _due(invite, now):
            return None
        if invite.state == InviteState.SENDING and invite.send_attempts >= settings.MAIL_SEND_MAX_ATTEMPTS:
            # Every try's worker died mid-send (a mail that kills it?): the tries are capped all the same.
            _failed(invite, INVITE_SEND_ABANDONED.format(attempts=invite.send_attempts))
            return None
        if not invite.token_nonce or invite.token_hash != token_hash(invite_token(invite)):
            # First try since creation or a resend; or the SECRET_KEY changed, so the stored hash can no
            # longer be matched by a derived token: a new nonce, so that the mailed link works.
            invite.token_nonce = secrets.token_hex(16)
            invite.token_hash = token_hash(invite_token(invite))
        invite.state = InviteState.SENDING
        invite.send_attempts += 1
        invite.last_attempt_at = now
        invite.next_attempt_at = now + stale_after()
        invite.save(update_fields=["token_nonce", "token_hash", "state", "send_attempts", "last_attempt_at",
                                   "next_attempt_at"])
    return invite


def _mail(invite: Invite, token: str) -> None:
    template = "invite" if invite.kind == InviteKind.INVITE else "welcome"
    # The code as well: for a mail client that drops the fragment, or a person who has the mail on another device.
    context = {"invite": invite, "link": invite_link(token), "code": token,
               "code_url": absolute_url("onboarding:invite_open"), "days": settings.INVITE_EXPIRY_DAYS,
               "partner": invite.partner}
    subject = format_lazy(gettext_lazy("Your invitation to the Partner Portal ({partner})")
                          if invite.kind == InviteKind.INVITE
                          else gettext_lazy("Your Partner Portal account is ready ({partner})"), partner=invite.partner)
    with in_recipient_language(invite.email, partner=invite.partner):
        subject = str(subject)  # in the invitee's language (their partner's, until they choose their own)
    rendered = mail_render(template=template, context=context, subject=subject, partner=invite.partner,
                           to=invite.email)
    mail_message(to=[invite.display_email], subject=subject, text=rendered.text, html=rendered.html).send()


def invite_send_finish(*, invite: Invite) -> bool:
    """Step three, after SMTP accepted the mail of a claimed invite: mark it sent; False when it no longer
    waits for this mail (resent, revoked, accepted, or marked sent by another try).

    Every try with the same nonce mails the same link, so whichever try got through may mark it
    sent; a resend or a revocation meanwhile changed or cleared the nonce and wins."""
    with transaction.atomic():
        current = Invite.objects.select_for_update(of=("self",)).select_related("partner").filter(
            pk=invite.pk, token_nonce=invite.token_nonce,
            state__in=(InviteState.PENDING, InviteState.SENDING, InviteState.FAILED),
        ).first()
        if current is None:
            return False
        invite_sent_record(invite=current)
    return True


def invite_sent_record(*, invite: Invite) -> Invite:
    """Record that the invite's mail went out: sent, its item invited (or account created), audited once.

    Call with the invite locked; also called when its link is used before the sent mark landed."""
    invite.state = InviteState.SENT
    invite.sent_at = timezone.now()
    invite.last_error = ""
    invite.save(update_fields=["state", "sent_at", "last_error"])
    if invite.item_id:
        RequestItem.objects.filter(pk=invite.item_id).exclude(state=ItemState.ACCEPTED).update(
            state=ItemState.INVITED if invite.kind == InviteKind.INVITE else ItemState.ACCOUNT_CREATED
        )
    audit_record(actor=None, action=f"{invite.kind}.sent", target=invite, partner=invite.partner,
                 data={"attempt": invite.send_attempts})
    webhook_emit(partner_id=invite.partner_id, event=WebhookEvent.INVITE_SENT, data=invite_webhook_data(invite))
    return invite


def invite_webhook_data(invite: Invite, **more) -> dict:
    """What the partner's webhooks are told of an invite."""
    return {"invite_id": invite.pk, "kind": invite.kind, "email": invite.display_email, "item_id": invite.item_id,
            "user_id": invite.user_id, "attempts": invite.send_attempts, **more}


def _attempt_failed(invite: Invite, error: str, *, final: bool = False) -> None:
    """Pending again with its next try's time, or failed after the last try (or a `final` error);
    raises MailDeferred for a retry. The nonce and hash stay: the retry mails the same link."""
    with transaction.atomic():
        current = Invite.objects.select_for_update(of=("self",)).select_related("partner").filter(
            pk=invite.pk, state=InviteState.SENDING, send_attempts=invite.send_attempts,
            token_nonce=invite.token_nonce,
        ).first()
        if current is None:
            return  # resent, revoked or claimed again meanwhile: this try's outcome no longer matters
        if final or current.send_attempts >= settings.MAIL_SEND_MAX_ATTEMPTS:
            _failed(current, error)
            return
        delay = retry_delay(current.send_attempts)
        current.state = InviteState.PENDING
        current.last_error = error[:2000]
        current.next_attempt_at = timezone.now() + delay
        current.save(update_fields=["state", "last_error", "next_attempt_at"])
    raise MailDeferred(delay, error)


def _failed(invite: Invite, error: str) -> None:
    # Call with the invite locked (and its partner read). The account manager sees it on the partner's page and
    # is told by mail (unless they chose not to be), in this transaction: once per failure.
    invite.state = InviteState.FAILED
    invite.last_error = error[:2000]
    invite.save(update_fields=["state", "last_error"])
    audit_record(actor=None, action=f"{invite.kind}.send_failed", target=invite, partner=invite.partner,
                 data={"error": error[:500], "attempts": invite.send_attempts})
    invite_failed_notify(invite=invite)
    webhook_emit(partner_id=invite.partner_id, event=WebhookEvent.INVITE_FAILED,
                 data=invite_webhook_data(invite, error=error[:500]))


def invite_send_failed(*, invite_id: int, error: str) -> None:
    """Mark an invite that is still on its way (pending or sending) failed, with the error; else nothing."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update(of=("self",)).select_related("partner").filter(
            pk=invite_id, state__in=(InviteState.PENDING, InviteState.SENDING)
        ).first()
        if invite is not None:
            _failed(invite, error)


def invites_sweep(*, now: datetime.datetime | None = None) -> dict:
    """Queue again the invites a lost message or a killed worker left behind (beat runs this).

    A pending invite is queued again once it has been due for `stale_after()` (its own message had
    that long to be taken), a sending one once its claim went stale. The send's claim decides.
    """
    now = now or timezone.now()
    waiting = Q(state=InviteState.PENDING, next_attempt_at__lte=now - stale_after())
    stuck = Q(state=InviteState.SENDING, next_attempt_at__lte=now)
    due = list(
        Invite.objects.filter(waiting | stuck).order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return {"queued": sum(enqueue(SEND_TASK, pk) for pk in due)}
