"""A database conflict left over after the services' own handling (a row lock not granted within lock_timeout, a
unique row inserted first) reaches people as "someone changed this at the same time", never as a server error.

The locks are real: another connection holds the row (SELECT … FOR UPDATE) while this one asks for it.
"""


import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from core.conflicts import conflicts_refused
from core.models import MailState, OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import CONCURRENT_CHANGE, INVITE_RESENT, ConcurrentChange
from onboarding.models import Invite, InviteState, ItemState, RequestItem
from onboarding.services.invites import invite_create
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.onboarding.concurrency import (
    Connection,
    hold_open,
    lock_timeout,
    row_locked,
    wait_until_waiting_for_a_lock,
)
from tests.onboarding.factories import InviteFactory
from tests.onboarding.invite_links import RENEW, mailed_code, opened
from tests.partners.factories import AgreementFactory, PartnerFactory


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def msp(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=(
        b"name,primary,aliases,forwarding,enabled\nAnn Able,ann@acme.example,,,yes\n"
    ))
    return partner


@pytest.fixture
def sent_invite(msp, manager):
    """Ann's invite, mailed (outside a transaction the send runs at once, eagerly); returns (invite, its code)."""
    invite = invite_create(partner=msp, email="ann@acme.example", name="Ann Able", actor=manager)
    body = next(m.body for m in mail.outbox if m.to == ["ann@acme.example"])
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT
    return invite, mailed_code(body)


def page_of(response) -> str:
    return response.content.decode()


# --- conflicts_refused, against real constraint violations ----------------------------------------------------------


@pytest.mark.django_db
def test_a_unique_violation_becomes_a_concurrent_change():
    first = InviteFactory()
    with pytest.raises(ConcurrentChange) as caught, conflicts_refused(), transaction.atomic():
        InviteFactory(partner=first.partner, display_email=first.display_email)
    assert str(caught.value) == CONCURRENT_CHANGE
    assert isinstance(caught.value.__cause__, IntegrityError)


@pytest.mark.django_db
def test_a_check_constraint_violation_stays_an_error():
    invite = InviteFactory()
    with pytest.raises(IntegrityError), conflicts_refused(), transaction.atomic():
        Invite.objects.filter(pk=invite.pk).update(state=InviteState.ACCEPTED)  # without its accept time


# --- pages and admin actions while another connection holds the row -------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["resend", "revoke"])
def test_resending_or_revoking_a_locked_invite_says_try_again(client, sent_invite, manager, action):
    invite, _ = sent_invite
    client.force_login(manager)
    with row_locked(Invite, invite.pk), lock_timeout():
        response = client.post(f"/partners/acme/invites/{invite.pk}/{action}/", follow=True)
    assert response.status_code == 200
    assert str(CONCURRENT_CHANGE) in [str(m) for m in response.context["messages"]]
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT


@pytest.mark.django_db(transaction=True)
def test_approving_a_locked_item_says_try_again_and_leaves_it_submitted(client, msp, manager):
    item = request_submit(partner=msp, actor=PartnerAdminFactory(partner=msp),
                          rows=[("Ann Able", "ann@acme.example")]).items.get()
    client.force_login(manager)
    with row_locked(RequestItem, item.pk), lock_timeout():
        response = client.post("/review/decide/", {"item": [item.pk], "decision": "approve"}, follow=True)
    assert f"ann@acme.example: {CONCURRENT_CHANGE}" in [str(m) for m in response.context["messages"]]
    item.refresh_from_db()
    assert item.state == ItemState.SUBMITTED


@pytest.mark.django_db(transaction=True)
def test_accepting_a_locked_invite_says_try_again_on_the_page(client, sent_invite):
    invite, code = sent_invite
    link = opened(client, code)
    with row_locked(Invite, invite.pk), lock_timeout():
        response = client.post(link, {"password": "a-long-enough-phrase-7", "password2": "a-long-enough-phrase-7"})
    assert response.status_code == 200
    assert str(CONCURRENT_CHANGE) in page_of(response)
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT


@pytest.mark.django_db(transaction=True)
def test_asking_for_a_renewal_of_a_locked_invite_says_try_again(client, sent_invite):
    invite, code = sent_invite
    Invite.objects.filter(pk=invite.pk).update(state=InviteState.EXPIRED)
    link = opened(client, code)
    with row_locked(Invite, invite.pk), lock_timeout():
        response = client.post(RENEW)
    assert response.status_code == 302
    assert response["Location"] == link
    invite.refresh_from_db()
    assert invite.renewal_requested_at is None


@pytest.mark.django_db(transaction=True)
def test_sending_a_locked_notification_again_says_try_again(client, msp, manager):
    failed = OutboundMail.objects.create(to="pat@acme.example", subject="Request approved", body="…",
                                         template="request_item_decided", partner_id=msp.pk,
                                         state=MailState.FAILED, attempts=6, last_error="SMTPDataError")
    client.force_login(manager)
    with row_locked(OutboundMail, failed.pk), lock_timeout():
        response = client.post(f"/partners/acme/mail/{failed.pk}/resend/", follow=True)
    assert str(CONCURRENT_CHANGE) in [str(m) for m in response.context["messages"]]
    failed.refresh_from_db()
    assert failed.state == MailState.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_admins_resend_of_a_locked_invite_says_try_again(client, sent_invite):
    invite, _ = sent_invite
    login_with_second_factor(client, AdminFactory())
    with row_locked(Invite, invite.pk), lock_timeout():
        response = client.post("/admin/onboarding/invite/", {"action": "resend", "_selected_action": [invite.pk]},
                               follow=True)
    assert response.status_code == 200
    assert f"{invite}: {CONCURRENT_CHANGE}" in [str(m) for m in response.context["messages"]]


@pytest.mark.django_db(transaction=True)
def test_a_lock_released_within_the_timeout_is_waited_for_not_refused(client, sent_invite, manager):
    invite, _ = sent_invite
    client.force_login(manager)
    holder, release = hold_open(lambda: Invite.objects.select_for_update().get(pk=invite.pk))
    # Releases the lock once this request waits for it.
    releaser = Connection(lambda: (wait_until_waiting_for_a_lock(), release.set()))
    releaser.start()
    with lock_timeout(5000):
        response = client.post(f"/partners/acme/invites/{invite.pk}/resend/", follow=True)
    releaser.join_or_fail()
    holder.join_or_fail()
    assert INVITE_RESENT.format(email="ann@acme.example") in [str(m) for m in response.context["messages"]]
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT  # resent, and mailed again at once (eagerly)
