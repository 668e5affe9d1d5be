"""Reminders before an agreement lapses: the account manager and the partner's admins, 30 and 7 days before
valid_until, each reminder once per agreement (again and again, and with two workers at once)."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent, OutboundMail
from partners.models import AgreementReminder, PartnerKind
from partners.services import agreement_remind, agreement_reminders_send
from partners.tasks import agreement_reminders_task
from tests.accounts.factories import PartnerAdminFactory, UserFactory
from tests.onboarding.concurrency import Connection, hold_open, wait_until_waiting_for_a_lock
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.test_agreement_services import publish, signer_of

TODAY = datetime.date(2026, 11, 29)


def ending_in(days: int, **partner_fields):
    """A partner with two partner admins and one staff member, whose agreement ends `days` after TODAY."""
    partner = PartnerFactory(kind=PartnerKind.MSP, name=partner_fields.pop("name", "Acme MSP"), **partner_fields)
    domain = "Acme.example" if partner.name == "Acme MSP" else f"{partner.slug}.example"
    PartnerAdminFactory(partner=partner, display_email=f"Pat@{domain}", full_name="Pat Adams")
    PartnerAdminFactory(partner=partner, display_email=f"Quinn@{domain}")
    UserFactory(partner=partner, display_email=f"staff@{domain}")
    PartnerAdminFactory(partner=partner, display_email=f"gone@{domain}", is_active=False)
    return AgreementFactory(partner=partner, version="2026.1", signed_at=timezone.now() - datetime.timedelta(days=300),
                            valid_until=TODAY + datetime.timedelta(days=days))


def recipients() -> list[str]:
    return sorted(OutboundMail.objects.filter(template="agreement_reminder").values_list("to", flat=True))


@pytest.mark.django_db
def test_30_days_before_the_account_manager_and_the_active_partner_admins_are_reminded_once():
    agreement = ending_in(30)

    assert agreement_reminders_send(today=TODAY) == 1
    assert agreement_reminders_send(today=TODAY) == 0
    assert agreement_reminders_send(today=TODAY + datetime.timedelta(days=10)) == 0

    assert recipients() == sorted(["Pat@Acme.example", "Quinn@Acme.example",
                                   agreement.partner.account_manager.display_email])
    reminder = AgreementReminder.objects.get()
    assert (reminder.agreement, reminder.days_before, reminder.recipients) == (agreement, 30, 3)
    assert AuditEvent.objects.filter(action="agreement.reminded", partner_id=agreement.partner_id).count() == 1


@pytest.mark.django_db
def test_7_days_before_the_second_reminder_goes_out():
    agreement = ending_in(30)
    agreement_reminders_send(today=TODAY)

    assert agreement_reminders_send(today=TODAY + datetime.timedelta(days=23)) == 1

    assert list(agreement.reminders.order_by("days_before").values_list("days_before", flat=True)) == [7, 30]
    assert OutboundMail.objects.filter(template="agreement_reminder").count() == 6


@pytest.mark.django_db
def test_an_agreement_recorded_close_to_its_end_gets_only_the_nearer_reminder():
    agreement = ending_in(5)

    agreement_reminders_send(today=TODAY)
    agreement_reminders_send(today=TODAY + datetime.timedelta(days=1))

    assert list(agreement.reminders.values_list("days_before", flat=True)) == [7]


@pytest.mark.django_db
@pytest.mark.parametrize("days", [31, -1])
def test_nothing_is_sent_before_30_days_or_after_it_lapsed(days):
    ending_in(days)
    assert agreement_reminders_send(today=TODAY) == 0
    assert not OutboundMail.objects.exists()


@pytest.mark.django_db
def test_a_renewed_or_inactive_partner_or_an_open_ended_agreement_is_not_reminded():
    renewed = ending_in(10, name="Renewed", slug="renewed")
    AgreementFactory(partner=renewed.partner, version="2027.1", signed_at=timezone.now(), valid_until=None)
    ending_in(10, name="Inactive", slug="inactive", is_active=False)
    open_ended = ending_in(10, name="Open", slug="open")
    open_ended.valid_until = None
    open_ended.save()

    assert agreement_reminders_send(today=TODAY) == 0
    assert not AgreementReminder.objects.exists()


@pytest.mark.django_db
def test_the_mail_says_when_it_ends_what_stops_and_who_signs_the_new_version(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    agreement = ending_in(7)
    publish("2027.1")
    signer_of(agreement.partner, full_name="Sue Signer")

    agreement_reminders_send(today=TODAY)

    notice = OutboundMail.objects.filter(template="agreement_reminder", to="Pat@Acme.example").get()
    assert notice.subject == "Acme MSP's partner agreement ends in 7 days (2026-12-06)"
    assert "Hello Pat Adams," in notice.body
    assert "no portal access can be requested, approved or sent for Acme MSP" in notice.body
    assert "Version 2027.1 is published" in notice.body and "Sue Signer" in notice.body
    assert f"{settings.PORTAL_URL}/partners/{agreement.partner.slug}/agreement/" in notice.body


@pytest.mark.django_db
def test_the_beat_task_sends_through_the_outbox(django_capture_on_commit_callbacks, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 29, 9, tzinfo=datetime.UTC))
    ending_in(30)

    with django_capture_on_commit_callbacks(execute=True):
        assert agreement_reminders_task.delay().get() == 1

    assert len([m for m in mail.outbox if "ends in 30 days" in m.subject]) == 3


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_the_reminder_once():
    agreement = ending_in(30)
    first, release = hold_open(lambda: agreement_remind(agreement_id=agreement.pk, today=TODAY))
    second = Connection(lambda: agreement_remind(agreement_id=agreement.pk, today=TODAY))
    second.start()
    wait_until_waiting_for_a_lock()  # the second waits for the first's lock on the agreement
    release.set()

    assert first.join_or_fail() is not None
    assert second.join_or_fail() is None
    assert AgreementReminder.objects.count() == 1
    assert OutboundMail.objects.filter(template="agreement_reminder").count() == 3
