"""Webhook deliveries to a real HTTP server on loopback: signed with the endpoint's secret, retried with backoff
while the receiver fails, recorded with its answer, never holding up or undoing the change that caused them; the
events of real approvals, rejections, acceptances and offboardings; addresses a delivery must not reach (SSRF);
the secret encrypted at rest."""

import base64
import datetime
import json
import socket

import pytest
import requests
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.services.access import user_deactivate, user_remove, users_offboard_from_directory
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, ItemState
from onboarding.services.acceptance import invite_accept
from onboarding.services.invites import invite_send_failed
from onboarding.services.review import request_item_reject, request_items_approve
from partners.models import DeliveryState, PartnerKind, WebhookDelivery, WebhookEndpoint, WebhookEvent
from partners.services.webhooks import (
    MAX_ATTEMPTS,
    WebhookDeferred,
    webhook_deliver,
    webhook_emit,
    webhook_endpoint_create,
    webhook_endpoint_set_active,
    webhook_retry_delay,
)
from partners.tasks import deliver_webhook
from partners.webhooks import (
    SIGNATURE_HEADER,
    TOO_SLOW,
    URL_NOT_HTTPS,
    URL_NOT_PUBLIC,
    WebhookUrlRefused,
    _address_allowed,
    webhook_post,
)
from tests.accounts.factories import PartnerAdminFactory, UserFactory
from tests.onboarding.factories import RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.webhook_receiver import Receiver, verify

pytestmark = pytest.mark.django_db

ALL_EVENTS = list(WebhookEvent.values)
HEADER = "name,primary,aliases,forwarding,enabled\n"
IVY = "Ivy Invitee,Ivy@Partner.example,,,yes\n"
PASSWORD = "quiet lantern orbit 7429"


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def reseller():
    partner = PartnerFactory(name="Resell Co", slug="resell", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def msp():
    partner = PartnerFactory(name="Acme MSP", slug="acme", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, IVY)
    return partner


def directory_load(partner, *rows: str) -> None:
    connection_, _ = DirectoryConnection.objects.get_or_create(
        partner=partner, defaults={"kind": SourceKind.CSV, "removal_brake_percent": 100})
    directory_csv_import(connection=connection_, data=(HEADER + "".join(rows)).encode())


def endpoint_for(partner, url: str, events=None) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoint_create(partner=partner, url=url, events=events or ALL_EVENTS,
                                   actor=partner.account_manager)


def closed_port_url() -> str:
    with socket.socket() as sock:  # bound, then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def types_of(receiver) -> list[str]:
    return [payload["type"] for payload in receiver.payloads()]


# --- signing and recording ------------------------------------------------------------------------------------------


def test_a_delivery_reaches_the_endpoint_signed_with_its_secret(reseller, receiver, django_capture_on_commit_callbacks):
    endpoint, secret = endpoint_for(reseller, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={"invite_id": 7})

    [request] = receiver.received
    body, header = request["body"], request["headers"][SIGNATURE_HEADER]
    assert verify(secret, body, header)
    assert not verify(secret, body.replace(b"7", b"8"), header)  # a changed body
    assert not verify("whsec_someone-else", body, header)  # another secret
    payload = json.loads(body)
    assert (payload["type"], payload["data"], payload["partner"]) == (
        "invite.sent", {"invite_id": 7}, {"id": reseller.pk, "slug": "resell"})
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Portal-Delivery"] == payload["id"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.response_status) == (DeliveryState.DELIVERED, 1, 200)
    assert str(delivery.event_id) == payload["id"]
    assert delivery.response_body == '{"status": 200}' and delivery.duration_ms is not None
    assert delivery.delivered_at is not None


def test_an_old_signature_is_refused_by_the_readme_check(reseller, receiver, django_capture_on_commit_callbacks):
    _, secret = endpoint_for(reseller, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})
    [request] = receiver.received
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert not verify(secret, request["body"], request["headers"][SIGNATURE_HEADER])  # a replay, later


def test_only_the_partner_s_active_endpoints_that_chose_the_event_get_it(reseller, receiver,
                                                                          django_capture_on_commit_callbacks):
    chose, _ = endpoint_for(reseller, receiver.url + "/chose", events=[WebhookEvent.PERSON_OFFBOARDED])
    endpoint_for(reseller, receiver.url + "/other-event", events=[WebhookEvent.INVITE_SENT])
    disabled, _ = endpoint_for(reseller, receiver.url + "/disabled", events=[WebhookEvent.PERSON_OFFBOARDED])
    webhook_endpoint_set_active(endpoint=disabled, active=False, actor=None)
    other = PartnerFactory()
    endpoint_for(other, receiver.url + "/other-partner", events=[WebhookEvent.PERSON_OFFBOARDED])

    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.PERSON_OFFBOARDED, data={"user_id": 1})

    assert [request["path"] for request in receiver.received] == ["/hooks/portal/chose"]
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [chose.pk]


# --- retries ---------------------------------------------------------------------------------------------------------


def test_a_failing_endpoint_is_tried_again_after_the_backoff_and_then_delivered(
        reseller, receiver, django_capture_on_commit_callbacks):
    endpoint, secret = endpoint_for(reseller, receiver.url)
    receiver.statuses = [500]
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})  # the task runs, gets 500
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.response_status) == (DeliveryState.PENDING, 1, 500)
    assert delivery.next_attempt_at == start + webhook_retry_delay(1) == start + datetime.timedelta(seconds=30)

    with time_machine.travel(start + datetime.timedelta(seconds=10), tick=False):
        assert deliver_webhook.apply(args=[delivery.pk]).get() is False  # a message early: not due, nothing sent
    assert len(receiver.received) == 1

    with time_machine.travel(start + datetime.timedelta(seconds=31), tick=False):
        assert deliver_webhook.apply(args=[delivery.pk]).get() is True  # the retry at its countdown
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == (DeliveryState.DELIVERED, 2, 200)
    first, second = receiver.received
    assert first["body"] == second["body"]  # the same event (same id) on every try, signed anew
    assert verify(secret, second["body"], second["headers"][SIGNATURE_HEADER])


def test_a_worker_s_failed_try_is_queued_again_with_the_backoff_as_its_countdown(reseller, receiver, redis_url):
    """Outside eager mode the task hands Celery its retry: a message on the broker (the suite's Redis), due after
    the backoff."""
    import redis
    from celery import current_app
    from celery.exceptions import Retry

    endpoint_for(reseller, receiver.url)
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    receiver.statuses = [503]
    broker = redis.Redis.from_url(redis_url)
    broker.delete("celery")
    current_app.conf.task_always_eager = False
    deliver_webhook.push_request(id="first-try", args=[delivery.pk], kwargs={}, retries=0, is_eager=False,
                                 called_directly=False)
    try:
        with pytest.raises(Retry) as retry:
            deliver_webhook.run(delivery.pk)
    finally:
        deliver_webhook.pop_request()
        current_app.conf.task_always_eager = True
    assert retry.value.when == 30.0
    [message] = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
    broker.delete("celery")
    assert (message["headers"]["task"], message["headers"]["retries"]) == ("partners.deliver_webhook", 1)
    assert json.loads(base64.b64decode(message["body"]))[0] == [delivery.pk]
    assert message["headers"]["eta"] is not None


def test_the_backoff_doubles_up_to_its_cap():
    assert [webhook_retry_delay(n).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 960, 1200]


@pytest.mark.parametrize("status", [429, 502, 503])
def test_a_busy_or_broken_receiver_is_tried_again(reseller, receiver, status):
    endpoint_for(reseller, receiver.url)
    # Outside a commit nothing is queued: the test makes the try itself.
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    receiver.statuses = [status]
    with pytest.raises(WebhookDeferred) as deferred:
        webhook_deliver(delivery_id=delivery.pk)
    assert deferred.value.delay == datetime.timedelta(seconds=30)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.response_status) == (DeliveryState.PENDING, status)


def test_a_refusal_by_the_receiver_is_not_tried_again(reseller, receiver):
    endpoint_for(reseller, receiver.url)
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    receiver.statuses = [400]
    assert webhook_deliver(delivery_id=delivery.pk).state == DeliveryState.FAILED
    assert webhook_deliver(delivery_id=delivery.pk) is None  # failed stays failed
    assert len(receiver.received) == 1


def test_after_the_last_try_the_delivery_is_failed(reseller, receiver):
    endpoint_for(reseller, receiver.url)
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    receiver.statuses = [503]
    delivery = webhook_deliver(delivery_id=delivery.pk)
    assert (delivery.state, delivery.attempts, delivery.response_status) == (DeliveryState.FAILED, MAX_ATTEMPTS, 503)


def test_a_delivered_event_is_not_sent_again_by_a_repeated_message(reseller, receiver,
                                                                    django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_for(reseller, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert deliver_webhook.apply(args=[delivery.pk]).get() is False
    assert len(receiver.received) == 1


# --- never in the way of the change ---------------------------------------------------------------------------------


def test_an_approval_goes_through_when_the_endpoint_is_down(reseller, django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_for(reseller, closed_port_url())
    item = RequestItemFactory(request__partner=reseller, display_email="new@resell.example")
    with django_capture_on_commit_callbacks(execute=True):
        decided = request_items_approve(item_ids=[item.pk], actor=reseller.account_manager)
    assert decided.done and not decided.refused
    item.refresh_from_db()
    assert item.state == ItemState.ACCOUNT_CREATED
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event=WebhookEvent.ITEM_DECIDED)
    assert (delivery.state, delivery.attempts, delivery.response_status) == (DeliveryState.PENDING, 1, None)
    assert delivery.last_error.startswith("ConnectionError")


def test_a_change_rolled_back_sends_and_keeps_nothing(reseller, receiver, django_capture_on_commit_callbacks):
    endpoint_for(reseller, receiver.url)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})
        raise RuntimeError("the change failed")
    assert not WebhookDelivery.objects.exists()
    assert receiver.received == []


# --- the events of real changes -------------------------------------------------------------------------------------


def test_an_approval_tells_of_the_decision_and_the_welcome_mail_sent(reseller, receiver,
                                                                      django_capture_on_commit_callbacks):
    endpoint_for(reseller, receiver.url)
    item = RequestItemFactory(request__partner=reseller, display_email="New@Resell.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[item.pk], actor=reseller.account_manager)
    decided, sent = sorted(receiver.payloads(), key=lambda payload: payload["type"] != "item.decided")
    assert decided["type"] == "item.decided"
    assert decided["data"] == {
        "item_id": item.pk, "request_id": item.request_id, "email": "New@Resell.example", "role": item.role,
        "decision": "approved", "state": "account_created", "reason": ""}
    invite = Invite.objects.get(item=item)
    assert sent["type"] == "invite.sent"
    assert (sent["data"]["invite_id"], sent["data"]["kind"], sent["data"]["item_id"]) == (invite.pk, "welcome", item.pk)


def test_a_rejection_tells_of_the_decision_and_its_reason(reseller, receiver, django_capture_on_commit_callbacks):
    endpoint_for(reseller, receiver.url)
    item = RequestItemFactory(request__partner=reseller)
    with django_capture_on_commit_callbacks(execute=True):
        request_item_reject(item=item, actor=reseller.account_manager, reason="Not one of ours")
    [payload] = receiver.payloads()
    assert (payload["type"], payload["data"]["decision"], payload["data"]["reason"]) == (
        "item.decided", "rejected", "Not one of ours")


def test_a_list_decided_at_once_records_its_deliveries_in_one_insert(reseller, receiver,
                                                                      django_capture_on_commit_callbacks):
    endpoint_for(reseller, receiver.url, events=[WebhookEvent.ITEM_DECIDED])
    endpoint_for(reseller, receiver.url + "/second", events=[WebhookEvent.ITEM_DECIDED])
    items = [RequestItemFactory(request__partner=reseller) for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as queries:
        request_items_approve(item_ids=[item.pk for item in items], actor=reseller.account_manager)
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "partners_webhookdelivery"')]
    reads = [q["sql"] for q in queries if 'FROM "partners_webhookendpoint"' in q["sql"]]
    assert (len(inserts), len(reads)) == (1, 1)
    assert WebhookDelivery.objects.filter(event=WebhookEvent.ITEM_DECIDED).count() == 10
    # one event per person, the same id at both endpoints
    assert WebhookDelivery.objects.values("event_id").distinct().count() == 5


def test_an_acceptance_tells_the_partner(msp, receiver, django_capture_on_commit_callbacks):
    item = RequestItemFactory(request__partner=msp, display_email="Ivy@Partner.example")
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[item.pk], actor=msp.account_manager)
    endpoint_for(msp, receiver.url, events=[WebhookEvent.INVITE_ACCEPTED])
    invite = Invite.objects.get(item=item)
    with django_capture_on_commit_callbacks(execute=True):
        user = invite_accept(invite=invite, password=PASSWORD)
    [payload] = receiver.payloads()
    assert payload["type"] == "invite.accepted"
    assert (payload["data"]["invite_id"], payload["data"]["user_id"], payload["data"]["email"]) == (
        invite.pk, user.pk, "Ivy@Partner.example")
    assert (payload["data"]["method"], payload["data"]["role"]) == ("cloud_password", "partner_staff")


def test_a_failed_invitation_tells_the_partner(msp, receiver, django_capture_on_commit_callbacks):
    endpoint_for(msp, receiver.url, events=[WebhookEvent.INVITE_FAILED])
    invite = Invite.objects.create(partner=msp, email="ivy@partner.example", display_email="Ivy@Partner.example",
                                   expires_at=timezone.now() + datetime.timedelta(days=7),
                                   user=UserFactory(partner=msp, is_active=False))
    with django_capture_on_commit_callbacks(execute=True):
        invite_send_failed(invite_id=invite.pk, error="550 mailbox unavailable")
    [payload] = receiver.payloads()
    assert (payload["type"], payload["data"]["invite_id"], payload["data"]["error"]) == (
        "invite.failed", invite.pk, "550 mailbox unavailable")


def test_deactivating_and_removing_tell_of_the_offboarding(reseller, receiver, django_capture_on_commit_callbacks):
    admin = PartnerAdminFactory(partner=reseller)
    staff, other = UserFactory(partner=reseller), UserFactory(partner=reseller)
    endpoint_for(reseller, receiver.url, events=[WebhookEvent.PERSON_OFFBOARDED])
    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(user=staff, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        user_remove(user=other, actor=admin)
    assert [(p["type"], p["data"]) for p in receiver.payloads()] == [
        ("person.offboarded", {"user_id": staff.pk, "email": staff.display_email, "reason": "deactivated"}),
        ("person.offboarded", {"user_id": other.pk, "email": other.display_email, "reason": "removed"}),
    ]


def test_a_person_disabled_in_the_directory_is_told_of_as_offboarded(msp, receiver,
                                                                      django_capture_on_commit_callbacks):
    ivy = UserFactory(partner=msp, display_email="Ivy@Partner.example", email="ivy@partner.example")
    endpoint_for(msp, receiver.url, events=[WebhookEvent.PERSON_OFFBOARDED])
    with django_capture_on_commit_callbacks(execute=True):
        directory_load(msp, "Ivy Invitee,Ivy@Partner.example,,,no\n")  # disabled there
        users_offboard_from_directory(partner_id=msp.pk)
    assert not User.objects.get(pk=ivy.pk).is_active
    payloads = receiver.payloads()
    assert [(p["type"], p["data"]) for p in payloads] == [
        ("person.offboarded", {"user_id": ivy.pk, "email": "Ivy@Partner.example", "reason": "directory_disabled"})]


# --- where deliveries may not go (SSRF) -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://10.0.0.7/hook", "https://192.168.1.20/hook", "https://169.254.169.254/",
                                 "https://[fd00::1]/hook", "https://100.64.0.1/hook",
                                 # IPv6 forms that lead to a private IPv4 address: mapped, NAT64, 6to4, Teredo.
                                 "https://[::ffff:10.0.0.7]/hook", "https://[64:ff9b::a9fe:a9fe]/",
                                 "https://[64:ff9b:1::c0a8:114]/hook", "https://[2002:a9fe:a9fe::1]/",
                                 "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook"])
def test_a_private_address_is_refused(reseller, url):
    with pytest.raises(WebhookUrlRefused, match=str(URL_NOT_PUBLIC)):
        endpoint_for(reseller, url)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"])
def test_a_public_address_and_its_ipv6_forms_are_allowed(address):
    assert _address_allowed(address)


@pytest.mark.parametrize("url", ["http://hooks.example.com/", "ftp://127.0.0.1/", "https://user:pw@example.com/",
                                 "https://example.com:99999/"])
def test_only_https_is_accepted(reseller, url):
    with pytest.raises(WebhookUrlRefused, match=str(URL_NOT_HTTPS)):
        endpoint_for(reseller, url)


def test_loopback_is_refused_unless_allowed_for_development(reseller, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP, settings.DEBUG = False, False
    with pytest.raises(WebhookUrlRefused):
        endpoint_for(reseller, receiver.url)
    with pytest.raises(WebhookUrlRefused, match=str(URL_NOT_PUBLIC)):
        endpoint_for(reseller, "https://localhost/hook")


def test_a_stored_private_address_is_refused_at_delivery_without_a_retry(reseller):
    endpoint = WebhookEndpoint.objects.create(partner=reseller, url="https://10.1.2.3/hook", secret="s",
                                              events=ALL_EVENTS)
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    delivery = webhook_deliver(delivery_id=delivery.pk)
    assert (delivery.endpoint, delivery.state, delivery.attempts) == (endpoint, DeliveryState.FAILED, 1)
    assert delivery.last_error == f"Refused: {URL_NOT_PUBLIC}"


def test_the_connection_itself_refuses_an_address_a_name_check_let_through(reseller, receiver, settings,
                                                                             monkeypatch):
    """DNS rebinding: the name resolved to a public address when checked, and to a private one when connecting."""
    endpoint_for(reseller, receiver.url)
    delivery = webhook_emit(partner_id=reseller.pk, event=WebhookEvent.INVITE_SENT, data={})[0]
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = False
    monkeypatch.setattr("partners.webhooks.webhook_url_check", lambda url: url)  # fooled
    delivery = webhook_deliver(delivery_id=delivery.pk)
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, f"Refused: {URL_NOT_PUBLIC}")
    assert receiver.received == []


# --- the secret -----------------------------------------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_never_audited(reseller, receiver):
    endpoint, secret = endpoint_for(reseller, receiver.url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM partners_webhookendpoint WHERE id = %s", [endpoint.pk])
        [stored] = cursor.fetchone()
    assert secret.startswith("whsec_") and secret not in stored and len(stored) > len(secret)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    event = AuditEvent.objects.get(action="webhook.created")
    assert secret not in json.dumps(event.data) and event.data["url"] == receiver.url


def test_a_receiver_that_answers_too_slowly_in_all_is_cut_off_as_a_failed_try(monkeypatch):
    """The socket timeouts count each read; the worker's soft time limit ends a trickling answer as a failed try."""
    def trickling(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(requests.Session, "post", trickling)
    result = webhook_post(url="http://127.0.0.1:9/portal", secret="s", payload={"type": "webhook.test"},
                          event_id="e1")
    assert result.status is None and result.error == TOO_SLOW
    assert (deliver_webhook.soft_time_limit, deliver_webhook.time_limit) == (30, 45)
