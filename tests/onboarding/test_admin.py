"""The invite admin: a mail on its way or failed shows its state, error and tries; resending a failed one works; the
link's secrets (hash and nonce) are never shown. The request item admin approves set-wise."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from onboarding.models import InviteState, ItemState, RequestItem
from partners.models import PartnerKind
from tests.accounts.factories import AdminFactory
from tests.conftest import login_with_second_factor
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/onboarding/invite/"


@pytest.fixture
def admin_client(client):
    login_with_second_factor(client, AdminFactory())
    return client


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme MSP")
    AgreementFactory(partner=partner)
    return partner


def test_the_invite_list_shows_a_mail_being_sent_with_its_last_error_and_tries(admin_client, partner):
    InviteFactory(partner=partner, state=InviteState.SENDING, token_hash="a" * 64, token_nonce="b" * 32,
                  send_attempts=2, last_error="SMTPDataError: (451, b'4.3.0 Try again later')")
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Being sent" in page
    assert "SMTPDataError: (451" in page
    assert re.search(r'<td class="field-send_attempts">2</td>', page)


def test_the_invite_list_can_be_filtered_to_the_mail_being_sent(admin_client, partner):
    InviteFactory(partner=partner, state=InviteState.SENDING, token_hash="a" * 64, token_nonce="b" * 32,
                  display_email="sending@partner.example")
    InviteFactory(partner=partner, display_email="waiting@partner.example")
    page = admin_client.get(CHANGELIST, {"state__exact": "sending"}).content.decode()
    assert "sending@partner.example" in page and "waiting@partner.example" not in page


def test_the_change_page_never_shows_the_hash_or_the_nonce(admin_client, partner):
    invite = InviteFactory(partner=partner, state=InviteState.SENDING, token_hash="a" * 64, token_nonce="b" * 32)
    page = admin_client.get(f"{CHANGELIST}{invite.pk}/change/").content.decode()
    assert "a" * 64 not in page and "b" * 32 not in page
    assert "token_nonce" not in page and "token_hash" not in page


def test_the_resend_action_sends_a_failed_invite_again(admin_client, partner, django_capture_on_commit_callbacks):
    invite = InviteFactory(partner=partner, state=InviteState.FAILED, send_attempts=6, last_error="SMTPDataError")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, {"action": "resend", "_selected_action": [invite.pk]}, follow=True)
    assert "1 resent." in [str(m) for m in response.context["messages"]]
    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts) == (InviteState.SENT, 1)
    [message] = mail.outbox
    assert message.to == [invite.display_email]


def test_the_approve_action_decides_the_chosen_items_at_once_and_names_those_it_refused(admin_client):
    def approve(size: int) -> tuple[int, list[RequestItem]]:
        reseller = PartnerFactory(kind=PartnerKind.RESELLER)
        AgreementFactory(partner=reseller)
        request = PortalUserRequestFactory(partner=reseller)
        items = [RequestItemFactory(request=request) for _ in range(size)]
        # Decided meanwhile: refused, the others go ahead.
        RequestItem.objects.filter(pk=items[0].pk).update(state=ItemState.REJECTED, rejection_reason="no",
                                                          decided_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.post("/admin/onboarding/requestitem/", {
                "action": "approve", "_selected_action": [item.pk for item in items]}, follow=True)
        assert response.status_code == 200
        page = response.content.decode()
        assert f"{size - 1} approved." in page
        assert f"{escape(str(items[0]))}: " in page
        return len(queries), RequestItem.objects.filter(pk__in=[i.pk for i in items]).order_by("pk")

    small, decided = approve(3)
    assert [item.state for item in decided] == [ItemState.REJECTED] + [ItemState.ACCOUNT_CREATED] * 2
    large, _ = approve(30)
    assert small == large


def test_the_approve_action_decides_at_most_a_list_at_once_the_oldest_first(admin_client, monkeypatch):
    monkeypatch.setattr("onboarding.admin.MAX_ROWS", 2)  # a list's worth; 1,000 in the portal
    reseller = PartnerFactory(kind=PartnerKind.RESELLER)
    AgreementFactory(partner=reseller)
    items = [RequestItemFactory(request=PortalUserRequestFactory(partner=reseller)) for _ in range(3)]

    page = admin_client.post("/admin/onboarding/requestitem/", {
        "action": "approve", "_selected_action": [item.pk for item in items]}, follow=True).content.decode()

    assert "2 approved." in page and "run the action again for the rest" in page
    decided = RequestItem.objects.filter(pk__in=[i.pk for i in items]).order_by("pk")
    states = list(decided.values_list("state", flat=True))
    assert states == [ItemState.ACCOUNT_CREATED, ItemState.ACCOUNT_CREATED, ItemState.SUBMITTED]
