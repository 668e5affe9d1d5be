"""Partners' webhooks: endpoints made, disabled and deleted by the partner's admins; events recorded as deliveries
in the transaction of the change that caused them and queued on its commit; each delivery tried by a worker,
again with backoff while the receiver is down, and recorded with its last response.

A delivery never holds up or rolls back its cause: `webhook_emit` only inserts rows (one INSERT for a list's worth
of events) and queues them after commit; the HTTP call happens in a worker, and nothing it meets is raised.
"""

import datetime
import secrets
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
from core.queue import enqueue_many
from partners.errors import PartnerError
from partners.models import (
    WEBHOOK_TEST_EVENT,
    DeliveryState,
    Partner,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from partners.webhooks import webhook_post, webhook_url_check

DELIVER_TASK = "partners.deliver_webhook"  # partners.tasks.deliver_webhook, queued by name
MAX_ATTEMPTS = 10  # then the delivery is marked failed
RETRY_BACKOFF_SECONDS = 30  # after the first failed try; doubling
# Capped below the broker's visibility timeout (30 minutes), so that a retry waiting in a worker is not
# handed to a second worker meanwhile.
RETRY_BACKOFF_MAX_SECONDS = 20 * 60
# A claimed try that got no outcome this long after (its worker died) may be tried again by a later message.
CLAIM_STALE = datetime.timedelta(seconds=60)
MAX_ENDPOINTS = 10  # per partner

ENDPOINTS_FULL = _("A partner has at most {count} webhook endpoints: delete one first.")
EVENTS_REQUIRED = _("Choose at least one event.")
TESTS_TOO_MANY = _("{count} test events were sent to this endpoint in the last ten minutes: wait a few minutes "
                   "before sending another.")
# Test events an endpoint may be sent in TEST_WINDOW: enough to try a receiver out, too few to flood one.
TEST_LIMIT = 5
TEST_WINDOW = datetime.timedelta(minutes=10)


class WebhookRefused(PartnerError):
    status_code = 422


class WebhookDeferred(Exception):
    """A try failed for now; the delivery waits `delay` for its next (the task schedules it)."""

    def __init__(self, delay: datetime.timedelta):
        super().__init__(f"next try in {delay}")
        self.delay = delay


def webhook_retry_delay(attempts: int) -> datetime.timedelta:
    """How long after its `attempts`-th failed try a delivery waits: 30 seconds doubling, capped at 20 minutes."""
    return datetime.timedelta(seconds=min(RETRY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0),
                                          RETRY_BACKOFF_MAX_SECONDS))


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

def webhook_emit(*, partner_id: int | None, event: str, data: dict) -> list[WebhookDelivery]:
    """Record `event` for every active endpoint of the partner that chose it, and queue them on commit."""
    return webhook_emit_many(event=event, items=[(partner_id, data)])


def webhook_emit_many(*, event: str, items: Iterable[tuple[int | None, dict]]) -> list[WebhookDelivery]:
    """`webhook_emit` for many (partner id, data) pairs of one event: one query for the endpoints, one INSERT for
    the deliveries, one batch of messages after commit — however many people a decision concerned."""
    event = str(event)
    items = [(partner_id, data) for partner_id, data in items if partner_id is not None]
    if not items:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        partner_id__in={partner_id for partner_id, _data in items}, is_active=True, events__contains=[event]
    ).select_related("partner"):
        endpoints.setdefault(endpoint.partner_id, []).append(endpoint)
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    for partner_id, data in items:
        event_id = uuid.uuid4()  # one event, one id: the same for each of the partner's endpoints
        for endpoint in endpoints.get(partner_id, []):
            deliveries.append(WebhookDelivery(
                endpoint=endpoint, event=event, event_id=event_id, created_at=now, next_attempt_at=now,
                payload=_payload(event_id, event, now, endpoint.partner, data)))
    WebhookDelivery.objects.bulk_create(deliveries)
    webhook_deliveries_queue(deliveries)
    return deliveries


def _payload(event_id: uuid.UUID, event: str, now: datetime.datetime, partner: Partner, data: dict) -> dict:
    return {"id": str(event_id), "type": event, "created": now.isoformat(),
            "partner": {"id": partner.pk, "slug": partner.slug}, "data": data}


def webhook_deliveries_queue(deliveries: list[WebhookDelivery]) -> None:
    """Queue the tries of these deliveries once the transaction commits: a change rolled back sends nothing."""
    calls = [(delivery.pk,) for delivery in deliveries]
    if calls:
        transaction.on_commit(lambda: enqueue_many(DELIVER_TASK, calls))


# ---------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------

def webhook_endpoint_create(*, partner: Partner, url: str, events: list[str], actor, request=None
                            ) -> tuple[WebhookEndpoint, str]:
    """Make an endpoint for the partner; returns it and its signing secret (shown once: it is stored encrypted
    and never shown again). Refuses a URL deliveries must not go to (webhook_url_check)."""
    events = sorted({str(event) for event in events} & set(WebhookEvent.values))
    if not events:
        raise WebhookRefused(EVENTS_REQUIRED)
    webhook_url_check(url)  # WebhookUrlRefused, a PartnerError like ours
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()  # counted one at a time
        if WebhookEndpoint.objects.filter(partner=partner).count() >= MAX_ENDPOINTS:
            raise WebhookRefused(ENDPOINTS_FULL.format(count=MAX_ENDPOINTS))
        endpoint = WebhookEndpoint.objects.create(partner=partner, url=url, events=events, secret=secret,
                                                  created_by=actor if getattr(actor, "pk", None) else None)
        audit_record(actor=actor, action="webhook.created", target=endpoint, partner=partner, request=request,
                     data={"url": url, "events": events})
    return endpoint, secret


def webhook_endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, actor, request=None) -> WebhookEndpoint:
    """Disable an endpoint (nothing more is recorded or sent; what waits goes once it is enabled again) or
    enable it again."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.is_active != active:
            endpoint.is_active = active
            endpoint.save(update_fields=["is_active"])
            audit_record(actor=actor, action="webhook.enabled" if active else "webhook.disabled", target=endpoint,
                         partner_id=endpoint.partner_id, request=request)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor, request=None) -> None:
    """Delete an endpoint and its deliveries' record; a try already queued finds nothing and does nothing."""
    with transaction.atomic():
        audit_record(actor=actor, action="webhook.deleted", target=endpoint, partner_id=endpoint.partner_id,
                     request=request, data={"url": endpoint.url})
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def webhook_endpoint_test(*, endpoint: WebhookEndpoint, actor, request=None) -> WebhookDelivery:
    """Send the endpoint a test event (whatever events it chose), recorded like any delivery.

    Raises WebhookRefused, sending nothing, when the endpoint had TEST_LIMIT test events within TEST_WINDOW: the
    button must not become a way to flood someone's server. The endpoint's row is locked while counting, so two
    clicks at once cannot both pass."""
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        now, event_id = timezone.now(), uuid.uuid4()
        recent = WebhookDelivery.objects.filter(endpoint=endpoint, event=WEBHOOK_TEST_EVENT,
                                                created_at__gt=now - TEST_WINDOW).count()
        if recent >= TEST_LIMIT:
            raise WebhookRefused(TESTS_TOO_MANY.format(count=recent))
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=WEBHOOK_TEST_EVENT, event_id=event_id, created_at=now, next_attempt_at=now,
            payload=_payload(event_id, WEBHOOK_TEST_EVENT, now, endpoint.partner,
                             {"message": "This is a test event from the Partner Portal."}))
        audit_record(actor=actor, action="webhook.tested", target=endpoint, partner_id=endpoint.partner_id,
                     request=request)
        webhook_deliveries_queue([delivery])
    return delivery


# ---------------------------------------------------------------------------
# Tries
# ---------------------------------------------------------------------------

def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Try one delivery that is due; None when there was nothing to do (delivered, failed, gone, not yet due).

    Raises WebhookDeferred when the receiver could not be reached or answered 5xx/429 and another try will come;
    after the last try, or on any other answer (a 4xx, a refused address), the delivery is marked failed."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return None
    result = webhook_post(url=claimed.endpoint.url, secret=claimed.endpoint.secret, payload=claimed.payload,
                          event_id=str(claimed.event_id))
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(
            pk=claimed.pk, attempts=claimed.attempts, state=DeliveryState.PENDING).first()
        if delivery is None:
            return None  # claimed again meanwhile (this try was taken for dead): that try's outcome counts
        delivery.response_status, delivery.response_body = result.status, result.body
        delivery.duration_ms, delivery.last_error = result.duration_ms, result.error
        delay = None
        if result.ok:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
        elif result.transient and delivery.attempts < MAX_ATTEMPTS:
            delay = webhook_retry_delay(delivery.attempts)
            delivery.next_attempt_at = now + delay
        else:
            delivery.state = DeliveryState.FAILED
        delivery.save(update_fields=["state", "delivered_at", "response_status", "response_body", "duration_ms",
                                     "last_error", "next_attempt_at"])
    if delay is not None:
        raise WebhookDeferred(delay)
    return delivery


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Count a try of a due pending delivery, committed before the HTTP call: a second message for it (a
    redelivery) finds it not due and leaves it, unless this try's worker died."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint").filter(
            pk=delivery_id, state=DeliveryState.PENDING, endpoint__is_active=True,
            next_attempt_at__lte=now + datetime.timedelta(seconds=1),
        ).first()
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + CLAIM_STALE
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def webhooks_sweep(*, now: datetime.datetime | None = None) -> int:
    """Queue again the pending deliveries whose message was lost (a broker outage, a killed worker); how many."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(state=DeliveryState.PENDING, endpoint__is_active=True,
                                              next_attempt_at__lte=now - CLAIM_STALE)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:500])
    return enqueue_many(DELIVER_TASK, [(pk,) for pk in due])
