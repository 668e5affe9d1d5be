"""Invites through the real thing: a Celery worker process on Redis, mail to a real SMTP server on loopback.

One mail per invite when its send task is delivered twice or SMTP fails once, what the sweeper queues again (a lost
message, a dead worker's claim) mailed by the worker with the same link, and a held request released by a directory
sync through the sync_run_succeeded signal and the recheck task (R9).
"""

import datetime
import time

import pytest
from django.db import transaction
from django.utils import timezone

from core import queue
from core.mail import stale_after
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, InviteState, ItemState
from onboarding.services.invites import invite_create, invite_send_claim, invite_token, invites_sweep, sending
from onboarding.services.review import request_item_approve, request_items_approve
from onboarding.tasks import send_invite
from partners.models import PartnerKind
from tests.onboarding.factories import InviteFactory, RequestItemFactory
from tests.onboarding.invite_links import mailed_codes
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.services import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEADER = "name,primary,aliases,forwarding,enabled\n"
OTTO = "Otto Other,otto@held.example,,,yes\n"
HANA = "Hana Held,Hana@Held.example,,,yes\n"
# The first retry of send_invite waits MAIL_RETRY_BACKOFF (1 s for the worker); the rest is margin.
RETRY_TIMEOUT = 45


@pytest.fixture
def mailbox(mail_server_session):
    """The session's SMTP server (the worker's mail goes there), emptied for this test."""
    mail_server_session.clear()
    yield mail_server_session
    mail_server_session.clear()


def mails_to(mailbox, address: str) -> list:
    return [message for message in mailbox.messages if message["To"] == address]


def partner_with_agreement():
    partner = PartnerFactory()
    AgreementFactory(partner=partner)  # R1: no invitation without a current agreement
    return partner


def invite_committed(partner, email: str) -> Invite:
    """Create an invite in a transaction that commits: its send task goes to the worker on commit."""
    with transaction.atomic():
        return invite_create(partner=partner, email=email, name="Wendy Worker", actor=partner.account_manager)


def test_an_invite_whose_send_task_is_delivered_twice_is_mailed_once(celery_worker_process, mailbox):
    invite = invite_committed(partner_with_agreement(), "Wendy@Worker.example")
    mailbox.wait_for(1, timeout=30)
    # A second delivery of the task (a redelivery, a double click): it finds the invite sent and does nothing.
    assert send_invite.delay(invite.pk).get(timeout=30) is False
    assert len(mails_to(mailbox, "Wendy@Worker.example")) == 1
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 1)


def test_an_invite_whose_send_task_is_queued_twice_at_once_is_mailed_once(celery_worker_process, mailbox):
    invite = invite_committed(partner_with_agreement(), "Wendy@Worker.example")
    duplicate = send_invite.delay(invite.pk)  # queued right behind the one the commit queued
    duplicate.get(timeout=30)
    mailbox.wait_for(1, timeout=30)
    assert len(mails_to(mailbox, "Wendy@Worker.example")) == 1
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT


def test_an_invite_is_mailed_once_when_smtp_fails_once_then_recovers(celery_worker_process, mailbox):
    mailbox.fail_next(1)
    started = time.monotonic()
    invite = invite_committed(partner_with_agreement(), "Wendy@Worker.example")
    mailbox.wait_for(1, timeout=RETRY_TIMEOUT)
    took = time.monotonic() - started
    assert mailbox.refused == 1
    # Nothing else is on its way: another run of the task finds the invite sent.
    assert send_invite.delay(invite.pk).get(timeout=30) is False
    assert len(mails_to(mailbox, "Wendy@Worker.example")) == 1
    invite.refresh_from_db()
    # Two tries, each counted by the database: the refused one and the one that got through.
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 2), f"mailed after {took:.1f} s"


def test_a_pending_invite_whose_message_was_lost_is_swept_to_the_worker_and_mailed_once(celery_worker_process, mailbox):
    invite = InviteFactory(display_email="Lost@Worker.example", name="Lou Lost")  # committed, never queued
    assert invites_sweep(now=timezone.now() + stale_after()) == {"queued": 1}
    mailbox.wait_for(1, timeout=30)
    wait_for(lambda: Invite.objects.filter(pk=invite.pk, state=InviteState.SENT).exists(), timeout=10,
             what="the invite marked sent")
    assert invites_sweep(now=timezone.now() + stale_after()) == {"queued": 0}
    assert len(mails_to(mailbox, "Lost@Worker.example")) == 1


def test_a_claim_left_by_a_dead_worker_is_swept_and_the_worker_mails_the_same_link(celery_worker_process, mailbox):
    invite = InviteFactory(display_email="Dora@Worker.example", name="Dora Dead")
    held_link = invite_token(invite_send_claim(invite_id=invite.pk))  # the worker that claimed it then died
    # Its claim goes stale (what stale_after() of waiting does):
    Invite.objects.filter(pk=invite.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    assert invites_sweep() == {"queued": 1}
    [message] = mailbox.wait_for(1, timeout=30)
    assert mailed_codes(mailbox.body(message)) == [held_link]
    wait_for(lambda: Invite.objects.filter(pk=invite.pk, state=InviteState.SENT).exists(), timeout=10,
             what="the invite marked sent")
    invite.refresh_from_db()
    assert invite.send_attempts == 2


def test_a_directory_sync_releases_a_held_request_and_its_invite_is_mailed(celery_worker_process, mailbox):
    partner = PartnerFactory(name="Held MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=(HEADER + OTTO).encode())
    item = RequestItemFactory(request__partner=partner, name="Hana Held", display_email="Hana@Held.example")
    request_item_approve(item=item, actor=partner.account_manager)
    item.refresh_from_db()
    assert item.state == ItemState.AWAITING_VALIDATION

    with transaction.atomic():
        directory_csv_import(connection=connection, data=(HEADER + OTTO + HANA).encode())

    wait_for(lambda: mails_to(mailbox, "Hana@Held.example"), timeout=30, what="the invite mail to Hana")
    [message] = mails_to(mailbox, "Hana@Held.example")
    assert message["Subject"] == "Your invitation to the Partner Portal (Held MSP)"
    wait_for(lambda: Invite.objects.filter(item=item, state=InviteState.SENT).exists(), timeout=10,
             what="the invite marked sent")
    item.refresh_from_db()
    assert item.state == ItemState.INVITED


def test_an_approval_of_many_hands_their_sends_to_the_worker_in_one_message_and_each_is_mailed_once(
    celery_worker_process, mailbox, monkeypatch
):
    published = []
    real_enqueue = queue.enqueue
    monkeypatch.setattr(queue, "enqueue", lambda name, *args, **kw: published.append(name) or real_enqueue(
        name, *args, **kw))
    partner = PartnerFactory(kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    count = sending.FAN_OUT_ABOVE + 5
    items = [RequestItemFactory(partner=partner, request__partner=partner, display_email=f"Many{i}@Fan.example")
             for i in range(count)]

    with transaction.atomic():
        decided = request_items_approve(item_ids=[item.pk for item in items], actor=partner.account_manager)

    assert len(decided.done) == count
    # One message for the invites from the page (the worker queues each send), one for the requester's mail.
    assert published.count(sending.FAN_OUT_TASK) == 1 and sending.SEND_TASK not in published
    wanted = sorted(f"Many{i}@Fan.example" for i in range(count))
    wait_for(lambda: sorted(m["To"] for m in mailbox.messages if m["To"].endswith("@Fan.example")) == wanted,
             timeout=60, what="every invite mailed once")
    assert Invite.objects.filter(partner=partner, state=InviteState.SENT).count() == count
