"""In Chromium, every page of the portal that a GET shows, for each role (and signed out): each loads,
and axe-core checks each at desktop and phone width (tests/browser/conftest.py), the admin pages the portal
adds or customises among them."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from directory_sync.models import DirectoryConnection, DirectoryUser, SourceKind, SyncStatus
from directory_sync.services.runs import directory_csv_import
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.directory_sync.factories import SyncRunFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visit_all(page, client, user, url: str, paths: list[str]) -> None:
    if user is not None:
        login_with_second_factor(client, user)
        page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])
    for path in paths:
        response = page.goto(f"{url}{path}")
        assert response.ok, f"{path}: {response.status}"
        assert page.url == f"{url}{path}", path


def test_every_page_of_each_role(live_server, browser, client):
    manager = AccountManagerFactory()
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Pat Adams,pat@acme.example,,,yes\n"
        b"Jo Newman,jo.newman@acme.example,jo@acme.example,,yes\n"
    ))
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example")
    staff = UserFactory(partner=partner, display_email="dan@acme.example")
    portal_request = request_submit(partner=partner, actor=admin, rows=[("Jo Newman", "jo@acme.example")])
    item = portal_request.items.get()
    person = DirectoryUser.objects.filter(partner=partner).first()
    # A finished run: a running run's page still refreshes itself with <meta http-equiv="refresh"> (axe: meta-refresh).
    started = timezone.now()
    run = SyncRunFactory(connection=directory, status=SyncStatus.SUCCEEDED, started_at=started, finished_at=started)
    # A passkey of the partner admin's, for its list and removal pages (the ceremonies: tests/browser/test_passkeys.py).
    passkey = WebAuthnCredential.objects.create(user=admin, name="Work laptop", credential_id=b"every-page",
                                                public_key=b"not used here", aaguid="0" * 32)

    partner_pages = [
        "/", "/partners/acme/", "/partners/acme/agreement/", "/partners/acme/access/",
        f"/partners/acme/access/{staff.pk}/", f"/partners/acme/people/{item.pk}/", "/partners/acme/requests/new/",
        f"/partners/acme/requests/{portal_request.pk}/", "/partners/acme/directory/", "/partners/acme/directory/add/",
        f"/partners/acme/directory/{person.pk}/", f"/partners/acme/directory/{person.pk}/remove/",
        "/partners/acme/directory/changes/", "/accounts/security/", "/accounts/notifications/",
        "/accounts/password/change/", "/accounts/two-factor/setup/",
        "/accounts/two-factor/passkeys/", f"/accounts/two-factor/passkeys/{passkey.pk}/remove/",
    ]
    for user, paths, viewport in [
        (None, ["/accounts/login/", "/accounts/password/reset/", "/accounts/password/reset/link/", "/invite/"],
         {"width": 390, "height": 844}),
        (admin, partner_pages, {"width": 1100, "height": 800}),
        (manager, ["/", "/partners/", "/review/", "/partners/acme/", f"/partners/acme/people/{item.pk}/"],
         {"width": 390, "height": 844}),
        (AdminFactory(), [
            reverse("admin:index"),
            reverse("admin:directory_sync_directoryconnection_change", args=[directory.pk]),
            reverse("admin:directory_sync_connection_upload_csv", args=[directory.pk]),
            reverse("admin:directory_sync_syncrun_change", args=[run.pk]),
            reverse("admin:core_outboundmail_changelist"), reverse("admin:core_outboundmail_preview"),
        ], {"width": 1100, "height": 800}),
    ]:
        context = browser.new_context(viewport=viewport)
        visit_all(context.new_page(), client.__class__(), user, live_server.url, paths)
        context.close()


def test_the_admins_reject_confirmation_and_decision_outcome_pages(live_server, page, client):
    """The admin pages the portal adds that a GET does not show: the reason asked for before rejecting, and each
    person's outcome after the decision."""
    partner = PartnerFactory(slug="acme")
    AgreementFactory(partner=partner)
    portal_request = request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner),
                                    rows=[("Jo Newman", "jo@acme.example")])
    visit_all(page, client, AdminFactory(), live_server.url, [reverse("admin:onboarding_requestitem_changelist")])
    page.check(f"input[name=_selected_action][value='{portal_request.items.get().pk}']")
    page.select_option("select[name=action]", "reject")
    page.click("button[name=index]")
    page.wait_for_selector("body.portal-admin")
    page.fill("input[name=reason]", "Not one of ours")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_selector("#outcome-rejected")
    assert "reason: Not one of ours" in page.inner_text("#outcome")
