"""One reminder for an invitation not yet accepted, INVITE_REMINDER_DAYS after its mail went out (issue 12,
point 4): the same link as the first mail (never a new one, never stored), exactly once, also with two workers."""

import datetime
import time

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from core.models import AuditEvent, OutboundMail
from directory_sync.models import DirectoryConnection, DirectoryUser, DirectoryUserStatus, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, InviteKind, InviteState
from onboarding.selectors import invite_by_token
from onboarding.services.invites import invite_create, invite_resend, invite_revoke, invites_remind
from onboarding.tasks import invites_remind_task
from partners.models import PartnerKind
from tests.onboarding.concurrency import row_locked
from tests.onboarding.invite_links import mailed_code, mailed_codes
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.services import wait_for

HEADER = "name,primary,aliases,forwarding,enabled\n"
IVY = "Ivy Invitee,Ivy@Partner.example,,,yes\n"


@pytest.fixture
def msp():
    partner = PartnerFactory(name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    connection, _ = DirectoryConnection.objects.get_or_create(partner=partner, defaults={"kind": SourceKind.CSV})
    directory_csv_import(connection=connection, data=(HEADER + IVY).encode())
    return partner


def sent(partner, capture, email: str = "Ivy@Partner.example", kind: str = InviteKind.INVITE) -> tuple[Invite, str]:
    """An invite created and mailed (tasks run eagerly); the code of the link it mailed."""
    with capture(execute=True):
        invite = invite_create(partner=partner, email=email, name="Ivy Invitee", kind=kind,
                               actor=partner.account_manager)
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT
    [message] = [m for m in mail.outbox if m.to == [email]]
    mail.outbox.clear()
    return invite, mailed_code(message.body)


def remind_at(moment, capture) -> int:
    with time_machine.travel(moment), capture(execute=True):
        return invites_remind()


def reminders_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address] and m.subject.startswith("Reminder:")]


def days(n: float) -> datetime.timedelta:
    return datetime.timedelta(days=n)


@pytest.mark.django_db
def test_an_unaccepted_invite_is_reminded_once_with_the_same_link(msp, django_capture_on_commit_callbacks):
    invite, code = sent(msp, django_capture_on_commit_callbacks)
    hash_before = invite.token_hash
    assert remind_at(invite.sent_at + days(3) + datetime.timedelta(minutes=1), django_capture_on_commit_callbacks) == 1
    [reminder] = reminders_to("Ivy@Partner.example")
    assert reminder.subject == "Reminder: your invitation to the Partner Portal (Acme MSP)"
    assert mailed_codes(reminder.body) == [code]  # the link of the first mail, which still works
    invite.refresh_from_db()
    assert invite.token_hash == hash_before and invite_by_token(code).pk == invite.pk
    assert invite.reminded_at is not None
    assert AuditEvent.objects.filter(action="invite.reminded", target_id=str(invite.pk)).count() == 1
    # Never stored: the reminder carries the link.
    assert not OutboundMail.objects.filter(body__contains=code).exists()
    mail.outbox.clear()
    assert remind_at(invite.sent_at + days(4), django_capture_on_commit_callbacks) == 0
    assert reminders_to("Ivy@Partner.example") == []


@pytest.mark.django_db
def test_no_reminder_before_the_configured_days(msp, settings, django_capture_on_commit_callbacks):
    settings.INVITE_REMINDER_DAYS = 2
    invite, _ = sent(msp, django_capture_on_commit_callbacks)
    assert remind_at(invite.sent_at + days(2) - datetime.timedelta(minutes=1), django_capture_on_commit_callbacks) == 0
    assert remind_at(invite.sent_at + days(2), django_capture_on_commit_callbacks) == 1


@pytest.mark.django_db
def test_no_reminder_for_a_link_about_to_expire(msp, settings, django_capture_on_commit_callbacks):
    settings.INVITE_REMINDER_DAYS = settings.INVITE_EXPIRY_DAYS - 1
    invite, _ = sent(msp, django_capture_on_commit_callbacks)
    # Due by its age, but the link dies within hours: a reminder could not be acted on in time.
    assert remind_at(invite.expires_at - datetime.timedelta(hours=6), django_capture_on_commit_callbacks) == 0
    assert reminders_to("Ivy@Partner.example") == []


@pytest.mark.django_db
def test_a_revoked_invite_is_not_reminded(msp, django_capture_on_commit_callbacks):
    invite, _ = sent(msp, django_capture_on_commit_callbacks)
    invite_revoke(invite=invite, actor=msp.account_manager)
    assert remind_at(invite.sent_at + days(3), django_capture_on_commit_callbacks) == 0


@pytest.mark.django_db
def test_a_resent_invite_is_reminded_once_more_with_its_new_link(msp, django_capture_on_commit_callbacks):
    invite, first_code = sent(msp, django_capture_on_commit_callbacks)
    assert remind_at(invite.sent_at + days(3), django_capture_on_commit_callbacks) == 1
    with time_machine.travel(invite.sent_at + days(4)), django_capture_on_commit_callbacks(execute=True):
        invite_resend(invite=invite, actor=msp.account_manager)
    invite.refresh_from_db()
    [resent] = [m for m in mail.outbox if not m.subject.startswith("Reminder:")]
    mail.outbox.clear()
    assert invite.reminded_at is None
    assert remind_at(invite.sent_at + days(3), django_capture_on_commit_callbacks) == 1
    [reminder] = reminders_to("Ivy@Partner.example")
    assert mailed_codes(reminder.body) == [mailed_code(resent.body)] != [first_code]


@pytest.mark.django_db
def test_a_link_that_cannot_be_rebuilt_is_not_replaced_by_the_reminder(msp, settings,
                                                                      django_capture_on_commit_callbacks):
    invite, code = sent(msp, django_capture_on_commit_callbacks)
    settings.SECRET_KEY = "a-rotated-secret-key-" + "x" * 40
    assert remind_at(invite.sent_at + days(3), django_capture_on_commit_callbacks) == 1
    [reminder] = reminders_to("Ivy@Partner.example")
    assert mailed_codes(reminder.body) == []
    assert "Use the link in the first mail" in reminder.body
    assert invite_by_token(code).pk == invite.pk  # the link the person has still works


@pytest.mark.django_db
def test_a_resellers_welcome_link_is_reminded_as_such(django_capture_on_commit_callbacks):
    reseller = PartnerFactory(name="Resell Co", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=reseller)
    invite, code = sent(reseller, django_capture_on_commit_callbacks, email="rita@resell.example",
                        kind=InviteKind.WELCOME)
    assert remind_at(invite.sent_at + days(3), django_capture_on_commit_callbacks) == 1
    [reminder] = reminders_to("rita@resell.example")
    assert reminder.subject == "Reminder: your Partner Portal account is ready (Resell Co)"
    assert mailed_codes(reminder.body) == [code]


@pytest.mark.django_db(transaction=True)
def test_an_invite_another_worker_is_reminding_is_skipped_not_sent_twice(msp, django_capture_on_commit_callbacks):
    invite, _ = sent(msp, django_capture_on_commit_callbacks)
    moment = invite.sent_at + days(3)
    with row_locked(Invite, invite.pk):
        # The other worker holds the row: this one passes it over at once (SKIP LOCKED), it does not wait.
        assert remind_at(moment, django_capture_on_commit_callbacks) == 0
    assert remind_at(moment, django_capture_on_commit_callbacks) == 1
    assert remind_at(moment, django_capture_on_commit_callbacks) == 0
    assert len(reminders_to("Ivy@Partner.example")) == 1


# --- through the real thing: the beat task in a Celery worker, mail to a real SMTP server -----------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_reminder_task_run_twice_by_a_real_worker_mails_one_reminder_with_the_first_link(
    celery_worker_process, mail_server_session, msp
):
    mail_server_session.clear()
    with transaction.atomic():
        invite = invite_create(partner=msp, email="Ivy@Partner.example", name="Ivy Invitee",
                               actor=msp.account_manager)
    [invitation] = mail_server_session.wait_for(1, timeout=30)
    wait_for(lambda: Invite.objects.get(pk=invite.pk).state == InviteState.SENT, timeout=30, what="the sent mark")
    # Mailed four days ago (the worker's clock is the real one).
    Invite.objects.filter(pk=invite.pk).update(sent_at=timezone.now() - days(4))
    first, second = invites_remind_task.delay(), invites_remind_task.delay()
    assert sorted([first.get(timeout=30), second.get(timeout=30)]) == [0, 1]
    _, reminder = mail_server_session.wait_for(2, timeout=30)
    assert reminder["Subject"] == "Reminder: your invitation to the Partner Portal (Acme MSP)"
    body = mail_server_session.body(reminder)
    assert mailed_codes(body) == mailed_codes(mail_server_session.body(invitation)) != []
    time.sleep(1)  # nothing else on its way
    assert len(mail_server_session.messages) == 2
    mail_server_session.clear()


@pytest.mark.django_db
def test_no_reminder_for_someone_the_directory_disabled_since(msp, django_capture_on_commit_callbacks):
    invite, _ = sent(msp, django_capture_on_commit_callbacks)
    DirectoryUser.objects.filter(partner=msp).update(status=DirectoryUserStatus.DISABLED)
    assert remind_at(invite.sent_at + days(3) + datetime.timedelta(minutes=1), django_capture_on_commit_callbacks) == 0
    assert reminders_to("Ivy@Partner.example") == []
