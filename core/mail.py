"""Sending mail: recorded in the transaction that decides it, sent by a worker after commit, retried.

Sending from the worker keeps SMTP latency (and failures) out of the request, which also
keeps answers like "we sent you a link" equally fast whether or not a mail went out.

A notification is an OutboundMail row before it is queued, and it is sent in two steps: claimed
(*sending*, committed), handed to SMTP, then marked *sent*. Every state says what to do after a
crash, so the sweeper (`outbox_sweep`, run by beat) queues again what a lost message or a killed
worker left behind; the claim's lock and state make a second task for the same mail a no-op.
The one window for a second copy: a worker killed after the SMTP server accepted the message and
before the *sent* mark committed (milliseconds) — then the mail goes out again once its claim
goes stale.

The rules of retries (`retry_delay`) and of staleness are shared with invites, which are sent the
same way with a secret link, so their body is never stored.

Optional notifications are declared as a `MailKind` (key, label, default, who may get it) by the module
that sends them; a person's choices are `MailPreference` rows, read for a whole batch of recipients in
one query (`mail_kind_recipients`). Security notices and invitations are not kinds: they always go out.
"""

import datetime
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.errors import MAIL_ALREADY_SENT, PortalError
from core.languages import in_recipient_language
from core.mail_render import mail_message, mail_render
from core.models import MailPreference, MailState, OutboundMail
from core.queue import enqueue, enqueue_many, enqueue_on_commit

logger = logging.getLogger(__name__)

SEND_TASK = "core.send_outbound_mail"  # core.tasks.send_outbound_mail, queued by name
PLAIN_TASK = "portal.send_mail"  # core.tasks.send_mail_task: a mail not recorded (it carries a secret)
SWEEP_BATCH = 500  # mails queued again per sweep; the next sweep takes the rest
TRANSIENT = (smtplib.SMTPException, OSError)  # what a later try may get through


class MailDeferred(PortalError):
    """This try failed; the mail is pending again and due after `delay`."""

    def __init__(self, delay: datetime.timedelta, error: str):
        self.delay = delay
        super().__init__(f"Sending failed ({error}); tried again in {int(delay.total_seconds())} s.")


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long after its `attempts`-th failed try a mail waits: MAIL_RETRY_BACKOFF doubling, capped."""
    seconds = settings.MAIL_RETRY_BACKOFF * 2 ** max(attempts - 1, 0)
    return datetime.timedelta(seconds=min(seconds, settings.MAIL_RETRY_BACKOFF_MAX))


def stale_after() -> datetime.timedelta:
    """How long a claimed send may go without an outcome (or a queued one without a worker) before it
    is tried again: longer than one SMTP conversation may take."""
    return datetime.timedelta(seconds=max(settings.OUTBOX_STALE_SECONDS, settings.EMAIL_TIMEOUT + 5))


def mail_send_on_commit(
    *, to: str, subject: str, template: str, context: dict, partner=None, durable: bool = True,
) -> OutboundMail | None:
    """Render `mail/<template>.txt` with `context` (its text and HTML parts, core.mail_render) and send it to
    `to` after the current transaction commits.

    A durable mail (the default) is recorded now and survives crashes and broker outages; pass
    `durable=False` for one that carries a secret (a password-reset link), which is never stored.
    """
    if not durable:
        with in_recipient_language(to, partner=partner if partner is not None else context.get("partner")):
            # In the recipient's language: a lazy translation is no task argument (JSON) and no field value.
            subject = str(subject)
        rendered = mail_render(template=template, context=context, subject=subject, partner=partner, to=to)
        enqueue_on_commit(PLAIN_TASK, to=[to], subject=subject, body=rendered.text, html=rendered.html)
        return None
    mail = mail_prepare(to=to, subject=subject, template=template, context=context, partner=partner)
    mail.save()
    enqueue_on_commit(SEND_TASK, mail.pk)
    return mail


def mail_prepare(*, to: str, subject: str, template: str, context: dict, partner=None) -> OutboundMail:
    """A durable mail, rendered (both parts, stored so that a resend sends the same) and not saved yet: for
    `mails_send_on_commit`."""
    with in_recipient_language(to, partner=partner if partner is not None else context.get("partner")):
        subject = str(subject)  # a lazy translation, in the recipient's language
    rendered = mail_render(template=template, context=context, subject=subject, partner=partner, to=to)
    return OutboundMail(to=to, subject=subject[:300], body=rendered.text, html=rendered.html,
                        template=template, partner_id=getattr(partner, "pk", None))


def mails_send_on_commit(mails: list[OutboundMail]) -> list[OutboundMail]:
    """Record mails built by `mail_prepare` in one INSERT and queue each after the current transaction commits:
    `mail_send_on_commit` for many, without a query per mail."""
    if not mails:
        return []
    created = OutboundMail.objects.bulk_create(mails)
    ids = [mail.pk for mail in created]
    transaction.on_commit(lambda: enqueue_many(SEND_TASK, [(pk,) for pk in ids]))
    return created


def outbound_mail_send(*, mail_id: int) -> bool:
    """Send one recorded mail; True when this call sent it, False when there was nothing to do.

    Raises MailDeferred when the SMTP server refused or could not be reached and the mail will be
    tried again (the caller may schedule that try); after the last try the mail is marked failed.
    """
    mail = _claim(mail_id)
    if mail is None:
        return False
    try:
        mail_message(to=[mail.to], subject=mail.subject, text=mail.body, html=mail.html).send()
    except TRANSIENT as exc:
        _attempt_failed(mail, f"{exc.__class__.__name__}: {exc}")
        return False
    OutboundMail.objects.filter(pk=mail.pk, state=MailState.SENDING, attempts=mail.attempts).update(
        state=MailState.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _claim(mail_id: int) -> OutboundMail | None:
    """Step one, committed before SMTP: the mail is this worker's to send, or None (sent, failed, not
    due, or being sent by a worker that is alive)."""
    now = timezone.now()
    with transaction.atomic():
        mail = OutboundMail.objects.select_for_update().filter(pk=mail_id).first()
        if mail is None or mail.state in (MailState.SENT, MailState.FAILED):
            return None
        # A pending mail is due at its time (a second early: a retry's countdown and the clock may
        # disagree); a sending one only once its claim went stale.
        due = mail.next_attempt_at <= now + datetime.timedelta(seconds=1) if mail.state == MailState.PENDING \
            else mail.next_attempt_at <= now
        if not due:
            return None
        if mail.state == MailState.SENDING and mail.attempts >= settings.MAIL_SEND_MAX_ATTEMPTS:
            # Its workers keep dying mid-send (a mail that crashes them?): stop, and say so.
            _fail(mail, "No outcome after the last try: the workers sending it stopped.")
            return None
        mail.state = MailState.SENDING
        mail.attempts += 1
        mail.last_attempt_at = now
        mail.next_attempt_at = now + stale_after()
        mail.save(update_fields=["state", "attempts", "last_attempt_at", "next_attempt_at"])
    return mail


def _attempt_failed(mail: OutboundMail, error: str) -> None:
    """Pending again with its next try's time, or failed after the last try; raises MailDeferred for a retry."""
    with transaction.atomic():
        updated = OutboundMail.objects.select_for_update().filter(
            pk=mail.pk, state=MailState.SENDING, attempts=mail.attempts
        ).first()
        if updated is None:
            return  # resent or handled meanwhile: this try's outcome no longer matters
        if updated.attempts >= settings.MAIL_SEND_MAX_ATTEMPTS:
            _fail(updated, error)
            return
        updated.last_error = error[:2000]
        delay = retry_delay(updated.attempts)
        updated.state = MailState.PENDING
        updated.next_attempt_at = timezone.now() + delay
        updated.save(update_fields=["state", "last_error", "next_attempt_at"])
    raise MailDeferred(delay, error)


def _fail(mail: OutboundMail, error: str) -> None:
    """Failed for good after its last try: recorded, audited and logged (call with the mail locked)."""
    mail.state = MailState.FAILED
    mail.last_error = error[:2000]
    mail.save(update_fields=["state", "last_error"])
    audit_record(actor=None, action="mail.failed", target=mail, partner_id=mail.partner_id,
                 data={"to": mail.to, "template": mail.template, "error": error[:500], "attempts": mail.attempts})
    logger.warning("mail %s to %s failed for good: %s", mail.pk, mail.to, error)


def outbound_mail_resend(*, mail: OutboundMail, actor, request=None) -> OutboundMail:
    """Try a failed (or stuck) mail again from the first try, now."""
    with transaction.atomic():
        mail = OutboundMail.objects.select_for_update().get(pk=mail.pk)
        if mail.state == MailState.SENT:
            raise PortalError(MAIL_ALREADY_SENT)
        mail.state = MailState.PENDING
        mail.attempts = 0
        mail.next_attempt_at = timezone.now()
        mail.save(update_fields=["state", "attempts", "next_attempt_at"])
        audit_record(actor=actor, action="mail.resent", target=mail, partner_id=mail.partner_id,
                     request=request, data={"to": mail.to, "template": mail.template})
        enqueue_on_commit(SEND_TASK, mail.pk)
    return mail


def outbox_sweep(*, now: datetime.datetime | None = None) -> dict:
    """Queue again what a lost message or a killed worker left behind; forget sent mail past its keeping time.

    Pending mail is queued again once it has been due for OUTBOX_STALE_SECONDS (its own message
    had that long to be taken), sending mail once its claim went stale.
    """
    now = now or timezone.now()
    waiting = Q(state=MailState.PENDING, next_attempt_at__lte=now - stale_after())
    stuck = Q(state=MailState.SENDING, next_attempt_at__lte=now)
    due = list(
        OutboundMail.objects.filter(waiting | stuck).order_by("next_attempt_at").values_list("pk", flat=True)[
            :SWEEP_BATCH
        ]
    )
    queued = sum(enqueue(SEND_TASK, pk) for pk in due)
    forgotten, _ = OutboundMail.objects.filter(
        state=MailState.SENT, sent_at__lt=now - datetime.timedelta(days=settings.OUTBOX_KEEP_DAYS)
    ).delete()
    return {"queued": queued, "forgotten": forgotten}


# --- optional notifications and who wants them ------------------------------------------------------------------------


@dataclass(frozen=True)
class MailKind:
    """One optional notification: its key (stored in preferences), what the person sees on their page, whether
    they get it without having chosen, and who may get it at all (`audience`: only they are offered it)."""

    key: str
    label: str
    default: bool = True
    audience: Callable[[object], bool] = lambda user: True
    order: int = 0

    def offered_to(self, user) -> bool:
        return bool(self.audience(user))


MAIL_KINDS: dict[str, MailKind] = {}


def mail_kind_declare(kind: MailKind) -> MailKind:
    """Register an optional notification where it is sent (so its page lists it); returns it for the sender."""
    MAIL_KINDS[kind.key] = kind
    return kind


def mail_kinds_offered(*, user) -> list[MailKind]:
    """The optional notifications this person may get, in their page's order."""
    return sorted((kind for kind in MAIL_KINDS.values() if kind.offered_to(user)), key=lambda k: (k.order, k.key))


def mail_preferences_of(*, user) -> dict[str, bool]:
    """Whether the person gets each kind offered to them: their choice, else the kind's default."""
    chosen = dict(MailPreference.objects.filter(user=user).values_list("kind", "enabled"))
    return {kind.key: chosen.get(kind.key, kind.default) for kind in mail_kinds_offered(user=user)}


def mail_kind_recipients(*, kind: MailKind, users: Iterable) -> list:
    """Those of `users` (None and inactive ones left out, each once) who get `kind`: one query for all of them."""
    people = {user.pk: user for user in users if user is not None and user.is_active and user.pk}
    if not people:
        return []
    chosen = dict(MailPreference.objects.filter(kind=kind.key, user_id__in=list(people)).values_list(
        "user_id", "enabled"))
    return [user for pk, user in people.items() if chosen.get(pk, kind.default)]


def mail_preferences_set(*, user, enabled: dict[str, bool], actor, request=None) -> dict[str, bool]:
    """Record the person's choices for the kinds offered to them (others are ignored); audited when any changed.
    Returns their preferences now."""
    before = mail_preferences_of(user=user)
    changed = {key: bool(value) for key, value in enabled.items() if key in before and before[key] != bool(value)}
    if changed:
        now = timezone.now()
        with transaction.atomic():
            MailPreference.objects.bulk_create(
                [MailPreference(user=user, kind=key, enabled=value, updated_at=now) for key, value in changed.items()],
                update_conflicts=True, unique_fields=["user", "kind"], update_fields=["enabled", "updated_at"],
            )
            audit_record(actor=actor, action="mail.preferences_changed", target=user, request=request,
                         partner_id=getattr(user, "partner_id", None), data=changed)
    return before | changed
