"""The invite admin: a mail on its way or failed shows its state, error and tries; resending a failed one works; the
link's secrets (hash and nonce) are never shown; an invite added here goes through the invite service and is sent. The
request item admin approves and rejects (asking for the reason) set-wise; neither change page sets a lifecycle."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from core.models import AuditEvent
from onboarding.errors import ALREADY_OPEN_INVITE, REASON_CONTROL_CHARACTERS, REASON_REQUIRED, WRONG_STATE
from onboarding.models import Invite, InviteState, ItemState, RequestItem
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


def test_after_a_decision_in_the_admin_each_person_s_outcome_is_shown(admin_client):
    reseller = PartnerFactory(kind=PartnerKind.RESELLER, name="Resell GmbH")
    AgreementFactory(partner=reseller)
    approved = RequestItemFactory(request=PortalUserRequestFactory(partner=reseller), name="Rosa Rot",
                                  display_email="rosa@resell.example")
    rejected = RequestItemFactory(request=PortalUserRequestFactory(partner=reseller), name="Max Muster",
                                  display_email="max@resell.example")

    response = admin_client.post(ITEMS, {"action": "approve", "_selected_action": [approved.pk]})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="outcome-heading">What your decision did</h2>' in page
    assert '<h3 id="outcome-account_created">Account created (1)</h3>' in page
    assert "Rosa Rot</a> · rosa@resell.example · Resell GmbH" in page
    assert "1 approved." in page

    page = admin_client.post(ITEMS, {"action": "reject", "_selected_action": [rejected.pk], "post": "yes",
                                     "reason": "Not one of ours"}).content.decode()
    assert '<h3 id="outcome-rejected">Rejected (1)</h3>' in page
    assert "reason: Not one of ours" in page


def test_an_admin_decision_that_decided_nobody_goes_back_to_the_list(admin_client):
    item = RequestItemFactory(state=ItemState.REJECTED, rejection_reason="no", decided_at=timezone.now())
    response = admin_client.post(ITEMS, {"action": "approve", "_selected_action": [item.pk]})
    assert response.status_code == 302 and response["Location"] == ITEMS


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


# --- the change pages leave the lifecycle to the services ---------------------------------------------------------

ITEMS = "/admin/onboarding/requestitem/"


def test_an_items_state_cannot_be_set_on_its_change_page_while_its_name_can_be_corrected(admin_client, partner):
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=partner), name="Ada Lovelce")

    response = admin_client.post(f"{ITEMS}{item.pk}/change/", {
        "name": "Ada Lovelace", "state": ItemState.REJECTED, "rejection_reason": "forged",
        "display_email": "x@y.example", "decided_at_0": "2026-01-01", "decided_at_1": "10:00:00", "_save": "Save"})

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.name, item.state, item.rejection_reason, item.decided_at) == (
        "Ada Lovelace", ItemState.SUBMITTED, "", None)
    assert item.display_email != "x@y.example"


def test_an_invites_state_and_counters_cannot_be_set_on_its_change_page(admin_client, partner):
    invite = InviteFactory(partner=partner, name="Ada", state=InviteState.FAILED, send_attempts=6)

    admin_client.post(f"{CHANGELIST}{invite.pk}/change/", {
        "state": InviteState.ACCEPTED, "send_attempts": "0", "name": "Eve", "kind": "welcome", "_save": "Save"})

    invite.refresh_from_db()
    assert (invite.state, invite.send_attempts, invite.name, invite.kind) == (InviteState.FAILED, 6, "Ada", "invite")


# --- the reject action asks for the reason ------------------------------------------------------------------------


def test_the_reject_action_asks_for_the_reason_first_and_changes_nothing_yet(admin_client, partner):
    items = [RequestItemFactory(request=PortalUserRequestFactory(partner=partner)) for _ in range(2)]

    response = admin_client.post(ITEMS, {"action": "reject", "_selected_action": [item.pk for item in items]})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="reason"' in page and "csrfmiddlewaretoken" in page
    for item in items:
        assert f'name="_selected_action" value="{item.pk}"' in page
    assert set(RequestItem.objects.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_the_reject_action_rejects_with_the_reason_and_mails_the_requester(
    admin_client, partner, django_capture_on_commit_callbacks
):
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=partner), display_email="ada@partner.example")
    decided = RequestItemFactory(request=PortalUserRequestFactory(partner=partner), state=ItemState.REJECTED,
                                 rejection_reason="earlier", decided_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ITEMS, {"action": "reject", "post": "yes", "reason": "Not one of our staff.",
                                             "_selected_action": [item.pk, decided.pk]}, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert "1 rejected." in messages
    assert f"{decided}: {WRONG_STATE.format(state='rejected', action='rejected')}" in messages
    item.refresh_from_db()
    assert (item.state, item.rejection_reason) == (ItemState.REJECTED, "Not one of our staff.")
    [message] = mail.outbox
    assert message.to == [item.request.submitted_by.display_email]
    assert "Rejected: reason: Not one of our staff." in message.body


@pytest.mark.parametrize(("reason", "refusal"), [
    ("  ", REASON_REQUIRED), ("Not ours\nP.S. click", REASON_CONTROL_CHARACTERS)])
def test_the_reject_action_refuses_an_empty_or_multi_line_reason_and_changes_nothing(
    admin_client, partner, django_capture_on_commit_callbacks, reason, refusal
):
    item = RequestItemFactory(request=PortalUserRequestFactory(partner=partner))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ITEMS, {"action": "reject", "post": "yes", "reason": reason,
                                             "_selected_action": [item.pk]})

    assert response.status_code == 200
    assert escape(str(refusal)) in response.content.decode()
    item.refresh_from_db()
    assert item.state == ItemState.SUBMITTED
    assert mail.outbox == []


def test_the_reject_action_decides_at_most_a_list_at_once(admin_client, partner, monkeypatch):
    monkeypatch.setattr("onboarding.admin.MAX_ROWS", 2)
    items = [RequestItemFactory(request=PortalUserRequestFactory(partner=partner)) for _ in range(3)]

    page = admin_client.post(ITEMS, {"action": "reject", "post": "yes", "reason": "Not ours.",
                                     "_selected_action": [item.pk for item in items]}, follow=True).content.decode()

    assert "2 rejected." in page and "run the action again for the rest" in page
    decided = RequestItem.objects.filter(pk__in=[i.pk for i in items]).order_by("pk")
    states = list(decided.values_list("state", flat=True))
    assert states == [ItemState.REJECTED, ItemState.REJECTED, ItemState.SUBMITTED]


# --- adding an invite goes through the invite service -------------------------------------------------------------


def test_the_add_invite_form_asks_only_who_and_for_which_partner(admin_client):
    form = admin_client.get(f"{CHANGELIST}add/").context["adminform"].form

    assert list(form.fields) == ["partner", "kind", "name", "display_email"]


def test_adding_an_invite_creates_it_and_its_person_and_sends_it(
    admin_client, partner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}add/", {
            "partner": partner.pk, "kind": "invite", "name": "Ada Lovelace", "display_email": "Ada@Partner.example"})

    assert response.status_code == 302, response.context and response.context["errors"]
    invite = Invite.objects.get(partner=partner)
    assert (invite.email, invite.display_email, invite.name) == ("ada@partner.example", "Ada@Partner.example",
                                                                 "Ada Lovelace")
    assert invite.user is not None and invite.user.partner_id == partner.pk
    assert invite.state == InviteState.SENT
    [message] = mail.outbox
    assert message.to == ["Ada@Partner.example"]
    assert AuditEvent.objects.filter(action="invite.created", partner_id=partner.pk).exists()


def test_adding_an_invite_for_someone_with_an_open_one_is_refused_and_saves_nothing(
    admin_client, partner, django_capture_on_commit_callbacks
):
    InviteFactory(partner=partner, display_email="ada@partner.example")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}add/", {
            "partner": partner.pk, "kind": "invite", "name": "Ada", "display_email": "Ada@Partner.example"})

    assert response.status_code == 200
    refusal = ALREADY_OPEN_INVITE.format(email="Ada@Partner.example", partner=partner)
    assert escape(str(refusal)) in response.content.decode()
    assert Invite.objects.filter(partner=partner).count() == 1
    assert mail.outbox == []
