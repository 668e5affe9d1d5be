"""A partner's webhooks page: who may use it (404 for everyone else), a new endpoint's secret shown once, disable,
enable, delete and a test event delivered to a real HTTP server, and the page in the same number of queries
however many endpoints and deliveries it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from partners.models import DeliveryState, PartnerKind, WebhookDelivery, WebhookEndpoint, WebhookEvent
from partners.services.webhooks import TEST_LIMIT, TEST_WINDOW, webhook_emit, webhook_endpoint_create
from partners.webhooks import URL_NOT_PUBLIC, WebhookUrlRefused
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.partners.factories import PartnerFactory
from tests.partners.webhook_receiver import Receiver, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    return PartnerFactory(kind=PartnerKind.MSP, name="Acme MSP", slug="acme")


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def page_url(partner) -> str:
    return reverse("partners:webhooks", args=[partner.slug])


def action_url(endpoint, action: str) -> str:
    return reverse("partners:webhook_action", args=[endpoint.partner.slug, endpoint.pk, action])


def add(partner, url: str) -> WebhookEndpoint:
    return webhook_endpoint_create(partner=partner, url=url, events=[WebhookEvent.INVITE_SENT], actor=None)[0]


def test_its_partner_admins_its_account_manager_and_admins_see_the_page(client, partner):
    for user in (PartnerAdminFactory(partner=partner), partner.account_manager, AdminFactory()):
        client.force_login(user)
        response = client.get(page_url(partner))
        assert response.status_code == 200
        assert "Webhooks of Acme MSP" in response.content.decode()


def test_partner_staff_other_partners_and_other_managers_get_404(client, partner, receiver):
    endpoint = add(partner, receiver.url)
    for user in (UserFactory(partner=partner), PartnerAdminFactory(), AccountManagerFactory()):
        client.force_login(user)
        assert client.get(page_url(partner)).status_code == 404
        assert client.post(page_url(partner), {"url": receiver.url, "events": ["invite.sent"]}).status_code == 404
        for action in ("disable", "delete", "test"):
            assert client.post(action_url(endpoint, action)).status_code == 404
    assert list(WebhookEndpoint.objects.values_list("pk", "is_active")) == [(endpoint.pk, True)]
    assert not WebhookDelivery.objects.exists()


def test_another_partner_s_endpoint_is_404_on_this_partner_s_page(client, partner, receiver):
    other = add(PartnerFactory(slug="globex"), receiver.url)
    client.force_login(PartnerAdminFactory(partner=partner))
    url = reverse("partners:webhook_action", args=[partner.slug, other.pk, "delete"])
    assert client.post(url).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=other.pk).exists()


def test_the_partner_detail_page_links_to_it_for_those_who_may_use_it(client, partner):
    client.force_login(partner.account_manager)
    assert page_url(partner) in client.get(reverse("onboarding:partner_detail", args=[partner.slug])).content.decode()
    client.force_login(UserFactory(partner=partner))
    staff_view = client.get(reverse("onboarding:partner_detail", args=[partner.slug]))
    assert staff_view.status_code == 200 and page_url(partner) not in staff_view.content.decode()


def test_a_new_endpoint_s_secret_is_shown_once(client, partner, receiver):
    client.force_login(PartnerAdminFactory(partner=partner))
    response = client.post(page_url(partner), {"url": receiver.url, "events": ["invite.sent", "item.decided"]})
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.events) == (receiver.url, ["invite.sent", "item.decided"])
    assert f'<code id="new-endpoint-secret">{endpoint.secret}</code>' in response.content.decode()
    assert endpoint.secret not in client.get(page_url(partner)).content.decode()
    assert AuditEvent.objects.filter(action="webhook.created", partner_id=partner.pk).count() == 1


def test_a_private_address_is_refused_with_the_reason_on_the_form(client, partner):
    client.force_login(PartnerAdminFactory(partner=partner))
    response = client.post(page_url(partner), {"url": "https://10.0.0.7/hook", "events": ["invite.sent"]})
    assert response.status_code == 200
    assert str(URL_NOT_PUBLIC) in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_is_disabled_enabled_and_deleted(client, partner, receiver):
    endpoint = add(partner, receiver.url)
    client.force_login(partner.account_manager)
    assert client.post(action_url(endpoint, "disable")).status_code == 302
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).is_active
    assert client.post(action_url(endpoint, "enable")).status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active
    assert client.post(action_url(endpoint, "delete")).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert list(AuditEvent.objects.filter(partner_id=partner.pk, action__startswith="webhook.")
                .order_by("id").values_list("action", flat=True)) == [
        "webhook.created", "webhook.disabled", "webhook.enabled", "webhook.deleted"]


def test_a_test_event_is_delivered_signed_and_shown_with_its_response(client, partner, receiver,
                                                                       django_capture_on_commit_callbacks):
    endpoint, secret = webhook_endpoint_create(partner=partner, url=receiver.url, events=["item.decided"], actor=None)
    client.force_login(PartnerAdminFactory(partner=partner))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(action_url(endpoint, "test")).status_code == 302
    [request] = receiver.received
    assert verify(secret, request["body"], request["headers"]["Portal-Signature"])
    assert receiver.payloads()[0]["type"] == "webhook.test"
    page = client.get(page_url(partner)).content.decode()
    assert '<tr class="delivery" data-state="delivered">' in page and "<code>200</code>" in page


def test_test_events_are_limited_per_endpoint_and_the_page_says_why(client, partner, receiver, time_machine,
                                                                     django_capture_on_commit_callbacks):
    endpoint = add(partner, receiver.url)
    other = add(partner, f"{receiver.url}/other")
    client.force_login(PartnerAdminFactory(partner=partner))
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(TEST_LIMIT):
            assert client.post(action_url(endpoint, "test")).status_code == 302
        response = client.post(action_url(endpoint, "test"), follow=True)
    assert "test events were sent to this endpoint in the last ten minutes" in response.content.decode()
    assert len(receiver.received) == TEST_LIMIT
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == TEST_LIMIT
    assert AuditEvent.objects.filter(action="webhook.tested").count() == TEST_LIMIT
    # Another endpoint has its own count, and the window passes.
    assert client.post(action_url(other, "test")).status_code == 302
    assert WebhookDelivery.objects.filter(endpoint=other).count() == 1
    time_machine.move_to(timezone.now() + TEST_WINDOW, tick=True)
    client.post(action_url(endpoint, "test"))
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == TEST_LIMIT + 1


def test_the_page_takes_the_same_queries_for_more_endpoints_and_deliveries(client, partner, receiver):
    client.force_login(PartnerAdminFactory(partner=partner))

    def queries_with(endpoints: int, deliveries: int) -> int:
        WebhookEndpoint.objects.all().delete()
        for n in range(endpoints):
            webhook_endpoint_create(partner=partner, url=f"{receiver.url}/{n}", events=["invite.sent"], actor=None)
        for _ in range(deliveries):
            webhook_emit(partner_id=partner.pk, event=WebhookEvent.INVITE_SENT, data={})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page_url(partner))
        assert response.status_code == 200
        assert response.content.decode().count('<tr class="delivery"') == endpoints * min(deliveries, 10)
        return len(queries)

    assert queries_with(1, 1) == queries_with(4, 15)
    assert WebhookDelivery.objects.filter(state=DeliveryState.PENDING).count() == 60


def test_a_loopback_url_is_refused_outside_development(partner, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = False
    with pytest.raises(WebhookUrlRefused):
        add(partner, receiver.url)
