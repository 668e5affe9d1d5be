"""In Chromium: people with access over time. A partner admin deactivates a person whose open session is refused
at its very next request; the partner's directory disables a person and their open session ends; a request for an
alias is fixed in one click ("request the primary instead") and goes through approval to an invitation; and the
export of who has access holds what the page shows."""

import csv
import io

import pytest

from accounts.models import AccessEnded, TOTPDevice, User
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, ItemState, RequestItem
from tests.accounts.factories import PASSWORD, AccountManagerFactory, PartnerAdminFactory, UserFactory
from tests.browser.test_onboarding_path import approve_everything, sign_in, sign_out
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DIRECTORY = (
    "name,primary,aliases,forwarding,enabled\n"
    "Pat Admin,pat@acme.example,,,yes\n"
    "Dan Doe,dan@acme.example,dan.alias@acme.example,,yes\n"
    "Eve Early,eve@acme.example,eve.alias@acme.example,,yes\n"
)


@pytest.fixture
def acme():
    """An MSP whose directory is a CSV file, with its partner admin Pat and Dan, both able to sign in."""
    manager = AccountManagerFactory(display_email="am@vendor.example")
    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=DIRECTORY.encode())
    PartnerAdminFactory(partner=partner, display_email="pat@acme.example", full_name="Pat Admin")
    UserFactory(partner=partner, display_email="dan@acme.example", full_name="Dan Doe")
    return partner


@pytest.fixture
def second_browser(browser):
    """Another person's browser, with sessions of its own."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def still_signed_in(page, url) -> bool:
    page.goto(f"{url}/partners/acme/")
    return not page.url.startswith(f"{url}/accounts/login/")


def test_a_partner_admin_deactivates_a_person_whose_open_session_is_refused_at_once(
    live_server, page, second_browser, acme,
):
    url = live_server.url
    sign_in(second_browser, url, "dan@acme.example", PASSWORD)
    assert still_signed_in(second_browser, url)

    sign_in(page, url, "pat@acme.example", PASSWORD)
    page.goto(f"{url}/partners/acme/")
    page.get_by_role("link", name="People with access").first.click()
    page.get_by_role("link", name="Dan Doe").click()
    page.get_by_role("button", name="Deactivate").click()
    page.wait_for_selector(".messages >> text=dan@acme.example is deactivated: their sessions have ended.")
    assert "Access removed (deactivated)" in page.inner_text("#timeline")

    # Dan's very next request, in the browser he left open, is sent to sign in.
    assert not still_signed_in(second_browser, url)

    # Reactivated, Dan signs in again (his old session stays ended).
    page.get_by_role("button", name="Reactivate").click()
    page.wait_for_selector(".messages >> text=dan@acme.example can sign in again.")
    sign_in(second_browser, url, "dan@acme.example", PASSWORD)
    assert still_signed_in(second_browser, url)


def test_the_directory_disabling_a_person_ends_their_open_session(live_server, page, second_browser, acme):
    url = live_server.url
    sign_in(second_browser, url, "dan@acme.example", PASSWORD)
    assert still_signed_in(second_browser, url)

    # The next import says Dan is disabled (forced past the brake: one person in three).
    directory_csv_import(connection=acme.directory_connection, force=True, data=DIRECTORY.replace(
        "dan.alias@acme.example,,yes", "dan.alias@acme.example,,no").encode())

    assert not still_signed_in(second_browser, url)
    dan = User.objects.get(email="dan@acme.example")
    assert (dan.is_active, dan.access_ended) == (False, AccessEnded.DIRECTORY_DISABLED)

    # His partner admin sees why, and cannot bring him back until the directory enables him again.
    sign_in(page, url, "pat@acme.example", PASSWORD)
    page.goto(f"{url}/partners/acme/access/?state=directory_disabled")
    page.get_by_role("link", name="Dan Doe").click()
    assert "Disabled in the directory" in page.inner_text("#person-facts")
    assert "Access removed (disabled in the directory)" in page.inner_text("#timeline")
    page.get_by_role("button", name="Reactivate").click()
    page.wait_for_selector(".messages >> text=still disabled or removed in the partner's directory")
    directory_csv_import(connection=acme.directory_connection, data=DIRECTORY.encode())
    page.get_by_role("button", name="Reactivate").click()
    page.wait_for_selector(".messages >> text=dan@acme.example can sign in again.")


def test_requesting_the_primary_instead_of_an_alias_goes_through_approval_to_an_invitation(
    live_server, page, acme,
):
    url = live_server.url
    sign_in(page, url, "pat@acme.example", PASSWORD)
    page.goto(f"{url}/partners/acme/requests/new/")
    page.get_by_label("Name of the person in row 1").fill("Eve Early")
    page.get_by_label("Primary email address of the person in row 1").fill("eve.alias@acme.example")
    page.get_by_label("Role of the person in row 1").select_option("partner_admin")
    page.get_by_role("button", name="Submit the list").click()
    page.wait_for_selector(".messages >> text=is submitted")
    sign_out(page)
    approve_everything(page, url, acme.account_manager)
    alias = RequestItem.objects.get(email="eve.alias@acme.example")
    assert (alias.state, alias.suggested_email) == (ItemState.INVALID_ADDRESS, "eve@acme.example")

    # One click on the partner page asks for the primary address instead, as a new list for the queue.
    sign_in(page, url, "pat@acme.example", PASSWORD)
    page.goto(f"{url}/partners/acme/")
    page.get_by_role("button", name="Request eve@acme.example instead").first.click()
    page.wait_for_selector(".messages >> text=eve@acme.example is requested again")
    sign_out(page)

    # The account manager again (sign_in takes a code after the one used a moment ago, which is spent).
    sign_in(page, url, "am@vendor.example", PASSWORD, device=TOTPDevice.objects.get(user=acme.account_manager))
    page.goto(f"{url}/review/")
    page.get_by_label("Choose all").check()
    page.get_by_role("button", name="Approve the chosen").click()
    page.wait_for_selector("text=approved")
    follow_up = RequestItem.objects.get(email="eve@acme.example")
    assert (follow_up.replaces_id, follow_up.state, follow_up.role) == (alias.pk, ItemState.INVITED, "partner_admin")
    assert Invite.objects.get(email="eve@acme.example").item_id == follow_up.pk
    assert User.objects.get(email="eve@acme.example").role == "partner_admin"


def test_the_export_holds_the_people_the_page_lists(live_server, page, acme):
    url = live_server.url
    eve = UserFactory(partner=acme, display_email="eve@acme.example", full_name="Eve Early")
    User.objects.filter(pk=eve.pk).update(is_active=False, access_ended=AccessEnded.DEACTIVATED,
                                          access_ended_at=eve.date_joined)
    sign_in(page, url, "pat@acme.example", PASSWORD)
    page.goto(f"{url}/partners/acme/access/")
    listed = page.locator("tr.person").all_inner_texts()
    assert len(listed) == 3
    with page.expect_download() as caught:
        page.get_by_role("link", name="Export (CSV)").click()
    download = caught.value
    assert download.suggested_filename.startswith("acme-portal-users-")
    with open(download.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert rows[0][:4] == ["name", "email", "role", "status"]
    people = {row[1]: row for row in rows[1:]}
    assert set(people) == {"pat@acme.example", "dan@acme.example", "eve@acme.example"}
    assert people["pat@acme.example"][2:4] == ["Partner admin", "active"]
    assert people["eve@acme.example"][2:4] == ["Partner staff", "deactivated"]
    assert people["pat@acme.example"][4] != ""  # signed in just now
