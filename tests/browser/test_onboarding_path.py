"""In Chromium, the whole path: a partner admin submits people (form and CSV), the account manager
approves, the invite mail arrives on a real SMTP server, the person accepts, sets a password, enrols
TOTP and signs in — for an MSP, and for a reseller."""

import re
import time

import pytest

from accounts.models import TOTPDevice
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import ItemState, RequestItem
from partners.models import PartnerKind, TwoFactorPolicy
from tests.accounts.factories import PASSWORD, AccountManagerFactory, PartnerAdminFactory
from tests.conftest import totp_code
from tests.mail import MailServer
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "violet-harbour-lantern-42"


@pytest.fixture
def world(mail_server, settings):
    mail_server.use(settings)
    manager = AccountManagerFactory(display_email="am@vendor.example")
    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    return manager


def sign_in(page, url, email, password, *, device=None):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.wait_for_url(f"{url}/accounts/login/verify/")
        # A code not used before: the current step's, or the next one after the last accepted (within the one step
        # of tolerance), whenever in its 30 seconds the last one was used.
        device.refresh_from_db()
        step = max(int(time.time()) // device.step, device.last_t + 1)
        page.fill("input[name=token]", totp_code(device.bin_key, at=step * device.step))
        page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def approve_everything(page, url, manager):
    sign_in(page, url, manager.email, PASSWORD, device=TOTPDevice.objects.get(user=manager))
    page.goto(f"{url}/review/")
    page.get_by_label("Choose all").check()
    page.get_by_role("button", name="Approve the chosen").click()
    page.wait_for_selector("text=approved")
    sign_out(page)


def mail_to(mail_server: MailServer, address: str, timeout: float = 15):
    """The newest message to `address`, waiting for it to arrive."""
    wait_for(lambda: any(address in m["To"] for m in mail_server.messages), timeout=timeout,
             what=f"a mail to {address}")
    return [m for m in mail_server.messages if address in m["To"]][-1]


def accept_invite(page, url, mail_server: MailServer, address: str) -> None:
    link = next(link for link in MailServer.links(mail_to(mail_server, address)) if "/invite/#" in link)
    assert link.startswith(url)
    page.goto(link)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Accept and set password").click()


def test_msp_path_from_list_to_two_factor_sign_in(live_server, page, browser, world, mail_server, settings, tmp_path):
    settings.PORTAL_URL = live_server.url
    manager = world
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    policy = partner.account_settings
    policy.two_factor_policy, policy.two_factor_grace_days = TwoFactorPolicy.REQUIRED, 7
    policy.save()
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Pat Adams,pat@acme.example,,,yes\n"
        b"Jo Newman,Jo.Newman@acme.example,jo@acme.example,,yes\n"
        b"Kim Lee,kim.lee@acme.example,kim@acme.example,,yes\n"
    ))
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example")

    # The partner admin types an alias; the live check offers the primary address and switches to it.
    sign_in(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/partners/acme/requests/new/")
    page.fill("input[name=rows-0-name]", "Jo Newman")
    page.fill("input[name=rows-0-email]", "jo@acme.example")
    page.locator("input[name=rows-0-email]").dispatch_event("change")
    page.wait_for_selector("#check-0 >> text=alias of Jo Newman")
    page.get_by_role("button", name="Use jo.newman@acme.example").click()
    page.wait_for_selector("#check-0 >> text=primary address of Jo Newman")
    page.get_by_role("button", name="Submit the list").click()
    page.wait_for_selector("#items >> text=Submitted")

    # The same admin uploads a CSV for Kim.
    csv_path = tmp_path / "kim.csv"
    csv_path.write_text("name,email\nKim Lee,kim.lee@acme.example\n", encoding="utf-8")
    page.goto(f"{live_server.url}/partners/acme/requests/new/")
    page.set_input_files("input[name=csv-file]", str(csv_path))
    page.get_by_role("button", name="Upload and submit").click()
    page.wait_for_selector("#items >> text=kim.lee@acme.example")
    sign_out(page)

    approve_everything(page, live_server.url, manager)
    assert set(RequestItem.objects.values_list("state", flat=True)) == {ItemState.INVITED}

    # Jo accepts in a browser of their own, sets a password, enrols TOTP.
    jo = browser.new_context().new_page()
    accept_invite(jo, live_server.url, mail_server, "jo.newman@acme.example")
    jo.wait_for_url(f"{live_server.url}/accounts/two-factor/setup/")
    jo.fill("input[name=token]", totp_code(jo.inner_text("#totp-secret")))
    jo.get_by_role("button", name="Turn on two-factor").click()
    jo.wait_for_url(f"{live_server.url}/accounts/two-factor/backup-codes/")
    sign_out(jo)

    # And signs in again: password, then the code from the app.
    device = TOTPDevice.objects.get(user__email="jo.newman@acme.example", confirmed=True)
    # The code used to enrol cannot be used again (replay protection): sign_in takes a later one.
    sign_in(jo, live_server.url, "Jo.Newman@acme.example", NEW_PASSWORD, device=device)
    jo.wait_for_url(f"{live_server.url}/")
    assert "Acme MSP" in jo.content()
    item = RequestItem.objects.get(email="jo.newman@acme.example")
    assert item.state == ItemState.ACCEPTED

    # The timeline shows the whole way.
    sign_in(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/partners/acme/people/{item.pk}/")
    steps = page.locator("#timeline strong").all_inner_texts()
    assert steps == ["Requested", "Approved", "Found in the directory", "Invited", "Accepted", "Two-factor enrolled"]


def test_reseller_path_account_created_then_welcome_and_sign_in(live_server, page, browser, world, mail_server,
                                                                settings):
    settings.PORTAL_URL = live_server.url
    manager = world
    partner = PartnerFactory(slug="resell", name="Resell GmbH", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=partner)
    admin = PartnerAdminFactory(partner=partner)

    sign_in(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/partners/resell/requests/new/")
    page.fill("input[name=rows-0-name]", "Rosa Rot")
    page.fill("input[name=rows-0-email]", "rosa@resell.example")
    page.get_by_role("button", name="Submit the list").click()
    page.wait_for_selector("#items >> text=rosa@resell.example")
    sign_out(page)

    approve_everything(page, live_server.url, manager)
    assert RequestItem.objects.get().state == ItemState.ACCOUNT_CREATED
    assert "account is ready" in mail_to(mail_server, "rosa@resell.example")["Subject"]

    rosa = browser.new_context().new_page()
    accept_invite(rosa, live_server.url, mail_server, "rosa@resell.example")
    rosa.wait_for_url(f"{live_server.url}/")  # optional two-factor: straight in
    sign_out(rosa)
    sign_in(rosa, live_server.url, "rosa@resell.example", NEW_PASSWORD)
    rosa.wait_for_url(f"{live_server.url}/")
    assert re.search("Resell GmbH", rosa.content())
    assert RequestItem.objects.get().state == ItemState.ACCEPTED
