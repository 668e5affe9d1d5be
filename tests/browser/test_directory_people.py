"""In Chromium: a partner admin of an account without a directory server removes one person, then uploads a change
file, checks its counts and applies it; the account manager sees who changed what."""

import pytest

from accounts.models import TOTPDevice
from directory_sync.models import DirectoryConnection, DirectoryUser, DirectoryUserStatus, SourceKind
from directory_sync.services.runs import directory_csv_import
from tests.accounts.factories import PASSWORD, AccountManagerFactory, PartnerAdminFactory
from tests.browser.test_onboarding_path import sign_in, sign_out
from tests.browser.test_phone_width import fits, sign_in_browser
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_partner_admin_removes_a_person_and_applies_a_change_file(live_server, page, tmp_path):
    manager = AccountManagerFactory(display_email="am@vendor.example")
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    # The partner admin signs in with a primary address of the account, as everyone of it does (R7).
    rows = "Pat Admin,pat@acme.example,,,yes\n"
    rows += "".join(f"Person {i:02},p{i}@acme.example,a{i}@acme.example,,yes\n" for i in range(20))
    directory_csv_import(connection=directory, data=("name,primary,aliases,forwarding,enabled\n" + rows).encode())
    admin = PartnerAdminFactory(partner=partner, display_email="pat@acme.example")
    url = live_server.url

    # One person, removed after a confirmation.
    sign_in(page, url, admin.email, PASSWORD)
    page.goto(f"{url}/partners/acme/directory/")
    page.get_by_label("Name or address begins with").fill("Person 03")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Remove Person 03").click()
    page.get_by_role("button", name="Remove from the account").click()
    page.wait_for_selector(".messages >> text=Person 03 was removed from the account.")
    assert DirectoryUser.objects.get(external_id="p3@acme.example").status == DirectoryUserStatus.REMOVED

    # A change file: checked first (nothing changes), then applied.
    change_file = tmp_path / "changes.csv"
    change_file.write_text(
        "action,name,primary,aliases,forwarding,enabled\n"
        "add,Newcomer,newcomer@acme.example,new@acme.example,,yes\n"
        "update,Person Five,p5@acme.example,a5@acme.example,,yes\n"
        "remove,,p7@acme.example,,,\n", encoding="utf-8")
    page.get_by_label("Change file (CSV)").set_input_files(str(change_file))
    page.get_by_role("button", name="Check the file").click()
    assert page.inner_text("#count-added") == "1"
    assert page.inner_text("#count-updated") == "1"
    assert page.inner_text("#count-removed") == "1"
    assert not DirectoryUser.objects.filter(external_id="newcomer@acme.example").exists()
    page.get_by_role("button", name="Apply the changes").click()
    page.wait_for_selector(".messages >> text=The change file was applied: 1 added, 1 changed, 1 removed")
    page.get_by_label("Name or address begins with").fill("new")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("tr.directory-person >> text=Newcomer")
    assert DirectoryUser.objects.get(external_id="p7@acme.example").status == DirectoryUserStatus.REMOVED
    sign_out(page)

    # The account manager sees who changed what.
    sign_in(page, url, manager.email, PASSWORD, device=device)
    page.goto(f"{url}/partners/acme/directory/changes/")
    changes = page.locator("tr.directory-change").all_inner_texts()
    assert len(changes) == 4
    assert all("pat@acme.example" in change for change in changes)
    assert any("Person Five" in change and "change file, row 3" in change for change in changes)


def test_the_directory_pages_fit_a_phone(live_server, phone_page, client):
    partner = PartnerFactory(slug="acme", name="Acme MSP")
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    rows = "".join(f"Person {i:02} With A Long Name,person.number{i}@acme.example,alias{i}@acme.example;"
                   f"another.alias{i}@acme.example,forward{i}@forwarding.example,yes\n" for i in range(5))
    directory_csv_import(connection=directory, data=("name,primary,aliases,forwarding,enabled\n" + rows).encode())
    admin = PartnerAdminFactory(partner=partner, display_email="person.number0@acme.example")
    someone = DirectoryUser.objects.get(partner=partner, external_id="person.number1@acme.example")
    sign_in_browser(phone_page.context, client, admin, live_server.url)
    for path in ("", "add/", f"{someone.pk}/", f"{someone.pk}/remove/", "changes/"):
        phone_page.goto(f"{live_server.url}/partners/acme/directory/{path}")
        assert fits(phone_page), path
