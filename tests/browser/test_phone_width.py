"""In Chromium at phone width: the working pages of every role fit the screen (no sideways scrolling)."""

import pytest

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.services.requests import request_submit
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390


def sign_in_browser(context, client, user, url):
    """Carry a test client's session (signed in, second factor given) into the browser."""
    login_with_second_factor(client, user)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_partner_and_account_manager_pages_fit_a_phone(live_server, browser, client):
    manager = AccountManagerFactory()
    partner = PartnerFactory(slug="acme", name="Acme Managed Services International", account_manager=manager)
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Pat Adams,pat@acme.example,,,yes\n"
        b"Jo Newman-Longname,jo.newman-longname@acme.example,jo@acme.example,,yes\n"
    ))
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example")
    portal_request = request_submit(partner=partner, actor=admin,
                                    rows=[("Jo Newman-Longname", "jo.newman-longname@acme.example")])
    item = portal_request.items.get()

    for user, paths in [
        (admin, ["/", "/partners/acme/", "/partners/acme/requests/new/",
                 f"/partners/acme/requests/{portal_request.pk}/", f"/partners/acme/people/{item.pk}/",
                 "/accounts/security/"]),
        (manager, ["/partners/", "/review/", "/partners/acme/"]),
    ]:
        context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
        sign_in_browser(context, client.__class__(), user, live_server.url)
        page = context.new_page()
        for path in paths:
            page.goto(f"{live_server.url}{path}")
            assert page.url == f"{live_server.url}{path}", path
            assert fits(page), f"{path} is wider than a phone"
        context.close()
