"""Reads of core that other layers share: the outbox's state, for operators and partner pages."""

from django.db.models import Count, QuerySet

from core.models import MailState, OutboundMail


def mail_counts() -> dict[str, int]:
    """How many notifications are waiting, being sent, and failed for good (sent ones are not counted)."""
    unsent = [MailState.PENDING, MailState.SENDING, MailState.FAILED]  # as the outbound_mail_unsent index
    rows = OutboundMail.objects.filter(state__in=unsent).order_by().values("state").annotate(n=Count("pk"))
    counts = {MailState.PENDING.value: 0, MailState.SENDING.value: 0, MailState.FAILED.value: 0}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def failed_mail(*, partner_id: int) -> QuerySet[OutboundMail]:
    """The notifications about a partner that could not be sent, newest first."""
    return OutboundMail.objects.filter(partner_id=partner_id, state=MailState.FAILED).order_by("-created_at")
