"""In Chromium, under the portal's Content-Security-Policy and Permissions-Policy: the pages that had inline
handlers (the review queue's "choose all", the request form's "Use <primary>") still work, and neither
they nor the sign-in, two-factor and admin pages trip the policy."""

import pytest
from django.contrib import admin
from django.urls import reverse

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor
from tests.directory_sync.factories import DirectoryConnectionFactory
from tests.onboarding.factories import RequestItemFactory
from tests.partners.documents import with_document
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before its own scripts (Playwright injects it outside the page's policy).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at "
                           + event.sourceFile + ":" + event.lineNumber);
});
"""


class PolicyWatch:
    """What the browser refused on a page: policy violation events, and its console's policy complaints."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if any(word in message.text for word in ("Content Security Policy", "Permissions-Policy", "Refused to")):
            self.console.append(message.text)

    def problems(self) -> list[str]:
        """Everything refused so far: the console across pages, the events of the page now shown."""
        return [*self.console, *self.page.evaluate("window.__violations || []")]

    def visit(self, url: str) -> None:
        """Open a page under the policy and check it loaded without a refusal (events do not survive the
        next page)."""
        response = self.page.goto(url)
        policy = [directive.strip() for directive in response.headers.get("content-security-policy", "").split(";")]
        assert "script-src 'self'" in policy, url
        self.page.wait_for_load_state("networkidle")
        assert self.problems() == [], url


@pytest.fixture
def watch(page):
    return PolicyWatch(page)


def sign_in_browser(page, client, user, url: str) -> None:
    """Carry a test client's session (signed in, second factor given) into the browser."""
    login_with_second_factor(client, user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])


def test_choose_all_on_the_review_page_works_under_the_policy(live_server, page, client, watch):
    manager = AccountManagerFactory()
    partner = PartnerFactory(account_manager=manager)
    for _ in range(3):
        RequestItemFactory(request__partner=partner)
    sign_in_browser(page, client, manager, live_server.url)

    watch.visit(f"{live_server.url}/review/")
    page.get_by_label("Choose all").check()
    assert page.locator("input[name=item]:checked").count() == 3
    page.get_by_label("Choose all").uncheck()
    assert page.locator("input[name=item]:checked").count() == 0

    assert watch.problems() == []


def test_use_primary_on_the_request_form_works_under_the_policy(live_server, page, client, watch, tmp_path):
    partner = PartnerFactory(slug="acme")
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\nJo Newman,Jo.Newman@acme.example,jo@acme.example,,yes\n"
    ))
    sign_in_browser(page, client, PartnerAdminFactory(partner=partner), live_server.url)

    watch.visit(f"{live_server.url}/partners/acme/requests/new/")
    page.fill("input[name=rows-0-name]", "Jo Newman")
    page.fill("input[name=rows-0-email]", "jo@acme.example")
    page.locator("input[name=rows-0-email]").dispatch_event("change")
    page.wait_for_selector("#check-0 >> text=alias of Jo Newman")
    page.get_by_role("button", name="Use jo.newman@acme.example").click()
    page.wait_for_selector("#check-0 >> text=primary address of Jo Newman")
    assert page.input_value("input[name=rows-0-email]") == "jo.newman@acme.example"
    assert watch.problems() == []

    # A rejected CSV file's reasons, one per line (this box had a style attribute).
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nKim Lee,not-an-address\n", encoding="utf-8")
    page.set_input_files("input[name=csv-file]", str(bad))
    page.get_by_role("button", name="Upload and submit").click()
    page.wait_for_selector("#csv-errors")
    assert page.locator("#csv-errors").evaluate("box => getComputedStyle(box).whiteSpace") == "pre-line"
    assert watch.problems() == []


def test_sign_in_and_two_factor_setup_pages_keep_to_the_policy(live_server, page, client, watch):
    user = PartnerAdminFactory()

    watch.visit(f"{live_server.url}/accounts/login/")
    page.fill("input[name=email]", user.email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/password/")
    assert watch.problems() == []

    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    watch.visit(f"{live_server.url}/accounts/two-factor/setup/")
    assert page.locator(".qr svg").is_visible()


def test_partner_pages_keep_to_the_policy(live_server, page, client, watch):
    manager = AccountManagerFactory()
    partner = PartnerFactory(slug="acme", account_manager=manager)
    with_document(AgreementFactory(partner=partner))
    RequestItemFactory(request__partner=partner)
    sign_in_browser(page, client, manager, live_server.url)

    watch.visit(f"{live_server.url}/")
    watch.visit(f"{live_server.url}/partners/")
    watch.visit(f"{live_server.url}/partners/acme/")


def test_admin_pages_keep_to_the_policy(live_server, page, client, watch):
    agreement = with_document(AgreementFactory(partner=PartnerFactory(name="Northwind")))
    connection = DirectoryConnectionFactory(partner=agreement.partner)
    sign_in_browser(page, client, AdminFactory(), live_server.url)
    base = live_server.url

    watch.visit(f"{base}/admin/")
    watch.visit(f"{base}{reverse('admin:partners_partner_change', args=[agreement.partner.pk])}")
    watch.visit(f"{base}{reverse('admin:directory_sync_directoryconnection_change', args=[connection.pk])}")
    watch.visit(f"{base}{reverse('admin:partners_agreement_change', args=[agreement.pk])}")
    link = page.locator("#id_document-download")
    assert link.get_attribute("href") == reverse("partners:agreement_document", args=[agreement.pk])

    # The add form's partner box is the admin's autocomplete (select2): open it and let it search.
    watch.visit(f"{base}{reverse('admin:partners_agreement_add')}")
    page.locator(".select2-selection").first.click()
    page.wait_for_selector(".select2-results__option >> text=Northwind")
    assert watch.problems() == []

    for model in admin.site._registry:
        if model._meta.app_label in ("otp_totp", "otp_static"):
            watch.visit(f"{base}{reverse(f'admin:{model._meta.app_label}_{model._meta.model_name}_changelist')}")
