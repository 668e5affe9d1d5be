"""Reminders before an agreement lapses: its account manager and its partner admins hear 30 and 7 days before
its valid_until, each reminder once per agreement whatever the retries or the workers running at once."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.text import format_lazy
from django.utils.translation import ngettext_lazy

from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_prepare, mails_send_on_commit
from core.timezones import portal_today
from partners.models import Agreement, AgreementReminder
from partners.selectors import ROLE_PARTNER_ADMIN, agreement_signers, agreement_version_offered

DEFAULT_REMINDER_DAYS = (30, 7)


def reminder_days() -> tuple[int, ...]:
    """How many days before valid_until the reminders go out, most distant first (AGREEMENT_REMINDER_DAYS)."""
    return tuple(sorted(set(getattr(settings, "AGREEMENT_REMINDER_DAYS", DEFAULT_REMINDER_DAYS)), reverse=True))


def reminder_due(*, valid_until: datetime.date, today: datetime.date) -> int | None:
    """The reminder due for an agreement ending on `valid_until`: the nearest threshold reached (an agreement
    recorded 5 days before its end gets the 7-day reminder, not the 30-day one too), or None."""
    left = (valid_until - today).days
    if left < 0:
        return None
    reached = [days for days in reminder_days() if left <= days]
    return min(reached) if reached else None


def agreement_reminders_send(*, today: datetime.date | None = None) -> int:
    """Send every reminder due today (beat runs this); returns how many agreements were reminded about."""
    today = today or portal_today()
    days = reminder_days()
    if not days:
        return 0
    # Only each partner's latest agreement: a renewed partner's previous one ends without a word.
    latest = Agreement.objects.filter(partner_id=OuterRef("partner_id")).order_by("-signed_at", "-pk")
    due = (Agreement.objects.filter(pk=Subquery(latest.values("pk")[:1]), partner__is_active=True,
                                    valid_until__gte=today, valid_until__lte=today + datetime.timedelta(days=days[0]))
           .order_by("valid_until", "pk").values_list("pk", flat=True))
    return sum(agreement_remind(agreement_id=pk, today=today) is not None for pk in due)


def agreement_remind(*, agreement_id: int, today: datetime.date | None = None) -> AgreementReminder | None:
    """Send the reminder due today about one agreement to its account manager and its partner's admins, once.

    The agreement's row lock makes a second worker wait and then find the reminder recorded; the reminder row
    (unique per agreement and threshold) is written with the mail, so a rolled-back try leaves no trace."""
    today = today or portal_today()
    with transaction.atomic():
        agreement = (Agreement.objects.select_for_update(of=("self",)).select_related("partner__account_manager")
                     .filter(pk=agreement_id).first())
        if agreement is None or agreement.valid_until is None or not agreement.partner.is_active:
            return None
        days = reminder_due(valid_until=agreement.valid_until, today=today)
        if days is None or agreement.reminders.filter(days_before__lte=days).exists():
            return None
        if agreement.partner.agreements.filter(signed_at__gt=agreement.signed_at).exists():
            return None  # renewed meanwhile
        mails = _reminder_mails(agreement, today)
        reminder = AgreementReminder.objects.create(agreement=agreement, days_before=days, recipients=len(mails))
        mails_send_on_commit(mails)
        audit_record(actor=None, action="agreement.reminded", target=agreement, partner=agreement.partner,
                     data={"days_before": days, "valid_until": str(agreement.valid_until), "recipients": len(mails)})
    return reminder


def _reminder_mails(agreement: Agreement, today: datetime.date) -> list:
    partner = agreement.partner
    recipients = list(partner.members.filter(role=ROLE_PARTNER_ADMIN, is_active=True).order_by("email"))
    manager = partner.account_manager
    if manager is not None and manager.is_active:
        recipients.append(manager)
    left = (agreement.valid_until - today).days
    context = {
        "agreement": agreement, "partner": partner, "days_left": left, "manager": manager,
        "signers": [signer.get_full_name() for signer in agreement_signers(partner=partner)],
        "offered": agreement_version_offered(partner=partner),
        "page_url": absolute_url("partners:agreement", partner.slug),
    }
    subject = format_lazy(ngettext_lazy("{partner}'s partner agreement ends in {days} day ({date})",
                                        "{partner}'s partner agreement ends in {days} days ({date})", left),
                          partner=partner, days=left, date=agreement.valid_until.isoformat())
    return [mail_prepare(to=person.display_email or person.email, subject=subject, template="agreement_reminder",
                         partner=partner, context={**context, "person": person,
                                                   "is_manager": person == manager,
                                                   "greeting": person.full_name})
            for person in recipients]
