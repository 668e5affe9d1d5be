"""In Chromium: a partner admin opens Webhooks from the partner's page, adds an endpoint (its secret shown once),
sends a test event that a real HTTP server on loopback receives, signed, and sees it delivered; axe-core checks
each page shown (tests/browser/conftest.py)."""

import pytest

from partners.models import DeliveryState, PartnerKind, WebhookDelivery, WebhookEndpoint
from tests.accounts.factories import PASSWORD, PartnerAdminFactory
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.webhook_receiver import Receiver, verify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, email, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_partner_admin_adds_an_endpoint_and_sends_it_a_test_event(live_server, page):
    partner = PartnerFactory(slug="acme", name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example")
    url = live_server.url

    with Receiver() as receiver:
        sign_in(page, url, admin.email, PASSWORD)
        page.goto(f"{url}/partners/acme/")
        page.get_by_role("link", name="Webhooks").click()
        page.wait_for_url(f"{url}/partners/acme/webhooks/")

        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("A person's access ended").check()
        page.get_by_role("button", name="Add the endpoint").click()
        page.wait_for_load_state()
        secret = page.locator("#new-endpoint-secret").inner_text().strip()
        endpoint = WebhookEndpoint.objects.get()
        assert (secret, endpoint.events) == (endpoint.secret, ["person.offboarded"])

        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_url(f"{url}/partners/acme/webhooks/")
        assert page.locator("#new-endpoint-secret").count() == 0  # shown once
        assert page.locator('tr.delivery[data-state="delivered"]').count() == 1

    [request] = receiver.received
    assert verify(secret, request["body"], request["headers"]["Portal-Signature"])
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
