"""Failures are visible: the account manager's partner page lists failed invites and failed notifications about the
partner, with their error and a "Send again" button; sending again is scoped like the invite actions."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import MAIL_ALREADY_SENT
from core.models import AuditEvent, MailState, OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import INVITE_RESENT, MAIL_RESENT
from onboarding.models import Invite, InviteState
from onboarding.services.invites import invite_create
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.onboarding.factories import InviteFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

SECTION = "Mail that could not be sent"


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def msp(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    connection_ = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection_, data=(
        b"name,primary,aliases,forwarding,enabled\nAnn Able,ann@acme.example,,,yes\n"
    ))
    return partner


@pytest.fixture
def other():
    partner = PartnerFactory(slug="other", name="Other Ltd")
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def failing_smtp(settings, mail_server):
    """The real SMTP server refuses the next message, and one try is all a mail gets."""
    settings.MAIL_SEND_MAX_ATTEMPTS = 1
    mail_server.use(settings)
    mail_server.fail_next(1)
    return mail_server


def failed_mail(partner, **fields) -> OutboundMail:
    return OutboundMail.objects.create(**{
        "to": "pat@acme.example", "subject": "Portal request for x approved", "body": "…",
        "template": "request_item_decided", "partner_id": partner.pk, "state": MailState.FAILED, "attempts": 6,
        "last_error": "SMTPDataError: (451, b'4.3.0 Try again later')", **fields,
    })


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_notification_that_failed_is_listed_with_its_error_and_sent_again(
    client, msp, manager, failing_smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request_submit(partner=msp, actor=PartnerAdminFactory(partner=msp), rows=[("Ann Able", "ann@acme.example")])
    notification = OutboundMail.objects.get(partner_id=msp.pk)
    assert notification.state == MailState.FAILED
    client.force_login(manager)
    page = client.get("/partners/acme/").content.decode()
    assert SECTION in page
    assert "New portal-user list from Acme MSP to review" in page
    assert "SMTPDataError" in page
    assert f'action="/partners/acme/mail/{notification.pk}/resend/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/partners/acme/mail/{notification.pk}/resend/", follow=True)
    assert MAIL_RESENT.format(to=manager.display_email) in messages_of(response)
    [message] = failing_smtp.wait_for(1)
    assert message["Subject"] == "New portal-user list from Acme MSP to review"
    notification.refresh_from_db()
    assert notification.state == MailState.SENT
    assert AuditEvent.objects.get(action="mail.resent").actor == manager
    assert SECTION not in response.content.decode()


def test_an_invite_that_failed_is_listed_with_its_error_and_sent_again_with_a_new_link(
    client, msp, manager, failing_smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite = invite_create(partner=msp, email="ann@acme.example", name="Ann Able", actor=manager)
    invite.refresh_from_db()
    assert invite.state == InviteState.FAILED
    # The account manager is told by mail too (issue 12, point 4).
    [notice] = failing_smtp.wait_for(1)
    assert notice["To"] == manager.display_email
    client.force_login(manager)
    page = client.get("/partners/acme/").content.decode()
    assert SECTION in page and "SMTPDataError" in page
    assert f'action="/partners/acme/invites/{invite.pk}/resend/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/partners/acme/invites/{invite.pk}/resend/", follow=True)
    assert INVITE_RESENT.format(email="ann@acme.example") in messages_of(response)
    [_, message] = failing_smtp.wait_for(2)
    assert "/invite/" in failing_smtp.body(message)
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 1)


def test_partner_staff_do_not_see_the_failed_mail(client, msp):
    failed_mail(msp)
    InviteFactory(partner=msp, state=InviteState.FAILED, last_error="SMTPDataError")
    client.force_login(PartnerAdminFactory(partner=msp))
    assert SECTION not in client.get("/partners/acme/").content.decode()


def test_another_partners_failed_mail_is_neither_listed_nor_sent_again(client, msp, other, manager):
    foreign = failed_mail(other, to="olga@other.example")
    client.force_login(manager)  # manages acme, not other
    assert "olga@other.example" not in client.get("/partners/acme/").content.decode()
    assert client.post(f"/partners/acme/mail/{foreign.pk}/resend/").status_code == 404
    assert client.post(f"/partners/other/mail/{foreign.pk}/resend/").status_code == 404
    foreign.refresh_from_db()
    assert (foreign.state, foreign.attempts) == (MailState.FAILED, 6)


def test_partner_staff_cannot_send_mail_again(client, msp):
    mail_row = failed_mail(msp)
    client.force_login(PartnerAdminFactory(partner=msp))
    assert client.post(f"/partners/acme/mail/{mail_row.pk}/resend/").status_code == 404
    assert OutboundMail.objects.get(pk=mail_row.pk).state == MailState.FAILED


def test_sending_mail_again_takes_a_post(client, msp, manager):
    mail_row = failed_mail(msp)
    client.force_login(manager)
    assert client.get(f"/partners/acme/mail/{mail_row.pk}/resend/").status_code == 405


def test_sending_mail_again_checks_the_csrf_token(msp, manager):
    mail_row = failed_mail(msp)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(f"/partners/acme/mail/{mail_row.pk}/resend/").status_code == 403
    assert OutboundMail.objects.get(pk=mail_row.pk).state == MailState.FAILED


def test_a_mail_sent_meanwhile_is_not_sent_again(client, msp, manager):
    mail_row = failed_mail(msp, state=MailState.SENT, sent_at=timezone.now())
    client.force_login(manager)
    response = client.post(f"/partners/acme/mail/{mail_row.pk}/resend/", follow=True)
    assert str(MAIL_ALREADY_SENT) in messages_of(response)


def test_the_page_reads_the_failures_in_the_same_number_of_queries_at_two_sizes(client, msp, manager):
    def queries_with(count: int) -> int:
        for n in range(count - Invite.objects.filter(partner=msp, state=InviteState.FAILED).count()):
            InviteFactory(partner=msp, state=InviteState.FAILED, last_error=f"error {n}")
            failed_mail(msp, to=f"person{n}@acme.example")
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/partners/acme/").content.decode()
        assert page.count("Send again") == 2 * count
        return len(queries)

    client.force_login(manager)
    assert queries_with(1) == queries_with(4)
