"""The pages of a CSV-sourced account's people: who may use them (404 for anyone else, another partner's people
never found), adding, changing and removing one person, a change file checked then applied, the recent changes,
and the same queries for a page of 3 people as of 60."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from directory_sync.models import (
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
)
from directory_sync.services import people_edits
from directory_sync.services.runs import directory_csv_import
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.directory_sync.factories import DirectoryConnectionFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "name,primary,aliases,forwarding,enabled\n"
CHANGE_HEADER = "action,name,primary,aliases,forwarding,enabled\n"
ROLES = ["partner_admin", "account_manager", "admin"]


def fill(partner, size: int, start: int = 0) -> None:
    """`size` people on the account (replacing it): p<i>@<slug>.example, alias a<i>@<slug>.example."""
    slug = partner.slug
    rows = [f"Person {i:03},P{i}@{slug}.example,a{i}@{slug}.example,f{i}@fwd.example,yes\n"
            for i in range(start, start + size)]
    directory_csv_import(connection=partner.directory_connection, data=(HEADER + "".join(rows)).encode())


def csv_account(slug: str, manager=None, size: int = 5):
    partner = PartnerFactory(slug=slug, name=slug.title(), account_manager=manager)
    AgreementFactory(partner=partner)
    DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    fill(partner, size)
    return partner


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    return csv_account("acme", manager)


@pytest.fixture
def other():
    return csv_account("other", AccountManagerFactory())


@pytest.fixture
def viewer(request, acme, manager):
    return {
        "partner_admin": lambda: PartnerAdminFactory(partner=acme),
        "account_manager": lambda: manager,
        "admin": lambda: AdminFactory(),
    }[request.param]()


@pytest.fixture
def admin_client(client, acme):
    client.force_login(PartnerAdminFactory(partner=acme))
    return client


def person(partner, address):
    return DirectoryAddress.objects.get(partner=partner, address=address).directory_user


def upload(client, slug, *rows, name="changes.csv"):
    data = (CHANGE_HEADER + "".join(rows)).encode()
    return client.post(f"/partners/{slug}/directory/changes/check/",
                       {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def apply(client, slug, *rows, force=False):
    content = base64.b64encode((CHANGE_HEADER + "".join(rows)).encode()).decode()
    data = {"content": content, **({"force": "on"} if force else {})}
    return client.post(f"/partners/{slug}/directory/changes/apply/", data)


# -- who may -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_the_partners_admins_its_account_manager_and_admins_see_the_people(client, acme, viewer):
    client.force_login(viewer)
    response = client.get("/partners/acme/directory/")
    assert response.status_code == 200
    assert "P3@acme.example" in response.text and "a3@acme.example" in response.text


@pytest.mark.parametrize("url", [
    "/partners/acme/directory/", "/partners/acme/directory/add/", "/partners/acme/directory/changes/",
])
def test_partner_staff_and_other_partners_get_404(client, acme, other, url):
    for user in (UserFactory(partner=acme), PartnerAdminFactory(partner=other), AccountManagerFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404, (user.role, url)


def test_another_partners_person_is_never_found_nor_changed(admin_client, other):
    stranger = person(other, "p1@other.example")
    assert admin_client.get(f"/partners/acme/directory/{stranger.pk}/").status_code == 404
    assert admin_client.post(f"/partners/acme/directory/{stranger.pk}/remove/").status_code == 404
    assert admin_client.post(f"/partners/other/directory/{stranger.pk}/remove/").status_code == 404
    assert DirectoryUser.objects.get(pk=stranger.pk).status == DirectoryUserStatus.ACTIVE


def test_a_change_file_for_another_partner_is_404_and_changes_nothing(admin_client, other):
    assert upload(admin_client, "other", "remove,,p1@other.example,,,\n").status_code == 404
    assert apply(admin_client, "other", "remove,,p1@other.example,,,\n").status_code == 404
    assert person(other, "p1@other.example").status == DirectoryUserStatus.ACTIVE


def test_anonymous_visitors_are_sent_to_sign_in(client, acme):
    response = client.get("/partners/acme/directory/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_account_synced_from_a_directory_server_says_so_and_offers_no_changes(client, manager):
    synced = DirectoryConnectionFactory(partner=PartnerFactory(slug="synced", account_manager=manager)).partner
    client.force_login(PartnerAdminFactory(partner=synced))
    response = client.get("/partners/synced/directory/")
    assert response.status_code == 200
    assert 'id="source-note"' in response.text and "Add a person" not in response.text
    response = client.post("/partners/synced/directory/add/", {"name": "X", "primary": "x@synced.example"})
    assert response.status_code == 400 and "directory server" in response.text
    assert not DirectoryUser.objects.filter(partner=synced).exists()


# -- one person ------------------------------------------------------------------------------------------------------


def test_a_partner_admin_adds_a_person_and_is_sent_back_to_the_list(admin_client, acme):
    response = admin_client.post("/partners/acme/directory/add/", {
        "name": "New Person", "primary": "new@acme.example", "aliases": "n1@acme.example; n2@acme.example",
        "forwarding": ""})
    assert response.status_code == 302 and response["Location"] == "/partners/acme/directory/"
    assert {a.address for a in person(acme, "new@acme.example").addresses.all()} == {
        "new@acme.example", "n1@acme.example", "n2@acme.example"}


def test_an_address_someone_holds_is_shown_on_its_field_and_nothing_is_added(admin_client, acme):
    response = admin_client.post("/partners/acme/directory/add/", {
        "name": "Copy", "primary": "copy@acme.example", "aliases": "a2@acme.example", "forwarding": ""})
    assert response.status_code == 400
    assert 'id="id_aliases_error"' in response.text and "Person 002" in response.text
    assert not DirectoryUser.objects.filter(external_id="copy@acme.example").exists()


def test_a_missing_primary_address_is_shown_on_its_field(admin_client):
    response = admin_client.post("/partners/acme/directory/add/", {"name": "No one", "primary": ""})
    assert response.status_code == 400 and 'id="id_primary_error"' in response.text


def test_changing_a_person_disables_them_and_records_who_did_it(client, acme, manager):
    target = person(acme, "p1@acme.example")
    admin = PartnerAdminFactory(partner=acme)
    client.force_login(admin)
    form = client.get(f"/partners/acme/directory/{target.pk}/")
    assert form.status_code == 200 and "a1@acme.example" in form.text
    response = client.post(f"/partners/acme/directory/{target.pk}/", {
        "name": "Person One", "primary": "P1@acme.example", "aliases": "a1@acme.example", "forwarding": ""})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.display_name, target.status) == ("Person One", DirectoryUserStatus.DISABLED)
    client.force_login(manager)
    changes = client.get("/partners/acme/directory/changes/")
    assert changes.status_code == 200
    assert admin.email in changes.text and "Person One" in changes.text and "f1@fwd.example" in changes.text


def test_removing_a_person_asks_first_then_removes_them(admin_client, acme):
    target = person(acme, "p2@acme.example")
    page = admin_client.get(f"/partners/acme/directory/{target.pk}/remove/")
    assert page.status_code == 200 and "Remove from the account" in page.text
    assert DirectoryUser.objects.get(pk=target.pk).status == DirectoryUserStatus.ACTIVE
    response = admin_client.post(f"/partners/acme/directory/{target.pk}/remove/")
    assert response.status_code == 302
    assert DirectoryUser.objects.get(pk=target.pk).status == DirectoryUserStatus.REMOVED
    assert AuditEvent.objects.filter(action=people_edits.REMOVED_ACTION, target_id=str(target.pk)).exists()


def test_the_forms_carry_a_csrf_token(admin_client):
    assert "csrfmiddlewaretoken" in admin_client.get("/partners/acme/directory/add/").text
    assert "csrfmiddlewaretoken" in admin_client.get("/partners/acme/directory/").text


# -- change files ----------------------------------------------------------------------------------------------------


def test_a_change_file_is_checked_first_with_its_counts_and_changes_nothing_until_applied(admin_client, acme):
    fill(acme, 20)  # one removal of 20 people is within the brake's 10 %
    rows = ["add,Newcomer,newcomer@acme.example,,,yes\n", "remove,,p4@acme.example,,,\n"]
    preview = upload(admin_client, "acme", *rows)
    assert preview.status_code == 200
    assert 'id="count-added">1<' in preview.text and 'id="count-removed">1<' in preview.text
    assert not DirectoryUser.objects.filter(external_id="newcomer@acme.example").exists()
    response = apply(admin_client, "acme", *rows)
    assert response.status_code == 302
    assert person(acme, "newcomer@acme.example").status == DirectoryUserStatus.ACTIVE
    assert DirectoryUser.objects.get(partner=acme, external_id="p4@acme.example").status == DirectoryUserStatus.REMOVED


def test_a_bad_change_file_is_refused_with_its_row_numbers(admin_client, acme):
    response = upload(admin_client, "acme", "add,Ok,ok@acme.example,,,yes\n",
                      "update,Nobody,nobody@acme.example,,,yes\n")
    assert response.status_code == 400
    assert "Row 3:" in response.text and "nobody@acme.example" in response.text
    assert not DirectoryUser.objects.filter(external_id="ok@acme.example").exists()


def test_a_partner_admin_cannot_force_a_file_past_the_brake_but_the_account_manager_can(client, acme, manager):
    rows = ["remove,,p0@acme.example,,,\n", "remove,,p1@acme.example,,,\n"]  # 2 of 5: over 10 %
    client.force_login(PartnerAdminFactory(partner=acme))
    preview = upload(client, "acme", *rows)
    assert 'id="brake"' in preview.text and "Apply the changes" not in preview.text
    assert apply(client, "acme", *rows, force=True).status_code == 400  # forcing is not theirs
    assert not DirectoryUser.objects.filter(partner=acme, status=DirectoryUserStatus.REMOVED).exists()
    client.force_login(manager)
    preview = upload(client, "acme", *rows)
    assert "Apply it although the brake refuses it" in preview.text
    assert apply(client, "acme", *rows, force=True).status_code == 302
    assert DirectoryUser.objects.filter(partner=acme, status=DirectoryUserStatus.REMOVED).count() == 2


def test_a_change_file_that_did_not_come_back_whole_is_refused(admin_client, acme):
    response = admin_client.post("/partners/acme/directory/changes/apply/", {"content": "%%% not base64"})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="directory.person.").exists()


# -- search, paging and queries --------------------------------------------------------------------------------------


def test_the_people_are_searched_by_the_beginning_of_a_name_or_an_address(admin_client, acme):
    fill(acme, 30)
    by_name = admin_client.get("/partners/acme/directory/?q=person 01")
    assert "P12@acme.example" in by_name.text and "P22@acme.example" not in by_name.text
    by_alias = admin_client.get("/partners/acme/directory/?q=A22@")
    assert "P22@acme.example" in by_alias.text and "P12@acme.example" not in by_alias.text


def test_the_list_is_paged_and_nothing_is_cut_off_silently(admin_client, acme):
    fill(acme, 60)
    first = admin_client.get("/partners/acme/directory/")
    assert "Person 049" in first.text and "Person 050" not in first.text and "of 60" in first.text
    assert "Person 050" in admin_client.get("/partners/acme/directory/?page=2").text


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_the_people_page_reads_as_many_queries_for_3_people_as_for_60(client, acme, viewer):
    client.force_login(viewer)
    fill(acme, 3)
    few = queries(client, "/partners/acme/directory/")
    fill(acme, 60)
    assert queries(client, "/partners/acme/directory/") == few
    assert queries(client, "/partners/acme/directory/?page=2&q=person") == few  # the search is a subquery of the same


@pytest.mark.parametrize("viewer", ROLES, indirect=True)
def test_the_recent_changes_read_as_many_queries_for_3_as_for_60(client, acme, viewer):
    client.force_login(viewer)
    actor = PartnerAdminFactory(partner=acme)

    def changes(n):
        for i in range(AuditEvent.objects.filter(action=people_edits.ADDED).count(), n):
            people_edits.directory_person_add(partner=acme, actor=actor, name=f"N {i}", primary=f"n{i}@acme.example")

    changes(3)
    few = queries(client, "/partners/acme/directory/changes/")
    changes(60)
    assert queries(client, "/partners/acme/directory/changes/") == few


def test_an_address_at_the_vendors_own_domain_is_refused(admin_client, settings):
    settings.VENDOR_EMAIL_DOMAINS = "vendor.example"
    response = admin_client.post("/partners/acme/directory/add/", {
        "name": "Boss", "primary": "boss@vendor.example", "aliases": "", "forwarding": ""})
    assert response.status_code == 400 and 'id="id_primary_error"' in response.text
    assert "vendor" in response.text
    assert not DirectoryUser.objects.filter(external_id="boss@vendor.example").exists()


def test_a_person_removed_or_disabled_here_loses_their_portal_access_once_it_commits(
    client, acme, django_capture_on_commit_callbacks
):
    # The partner admin is on the account too: a portal user without a primary address there loses access (R7).
    client.force_login(PartnerAdminFactory(partner=acme, display_email="p0@acme.example"))
    admin_client = client
    leaver = UserFactory(partner=acme, display_email="p1@acme.example")
    disabled = UserFactory(partner=acme, display_email="p2@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/partners/acme/directory/{person(acme, 'p1@acme.example').pk}/remove/")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/partners/acme/directory/{person(acme, 'p2@acme.example').pk}/", {
            "name": "Person 002", "primary": "P2@acme.example", "aliases": "", "forwarding": ""})  # not active
    assert response.status_code == 302, response.text
    assert person(acme, "p2@acme.example").status == DirectoryUserStatus.DISABLED
    leaver.refresh_from_db()
    disabled.refresh_from_db()
    assert (leaver.is_active, disabled.is_active) == (False, False)


def test_a_partner_admin_cannot_remove_or_disable_themselves(client, acme):
    me = person(acme, "p0@acme.example")
    client.force_login(PartnerAdminFactory(partner=acme, display_email="P0@acme.example"))
    response = client.post(f"/partners/acme/directory/{me.pk}/remove/")
    assert response.status_code == 302
    response = client.post(f"/partners/acme/directory/{me.pk}/", {"name": "Me", "primary": "P0@acme.example"})
    assert response.status_code == 400 and 'id="form-errors"' in response.text
    response = client.post(f"/partners/acme/directory/{me.pk}/", {"name": "Me", "primary": "other@acme.example",
                                                                  "active": "on"})
    assert response.status_code == 400
    assert DirectoryUser.objects.get(pk=me.pk).status == DirectoryUserStatus.ACTIVE
    assert client.post(f"/partners/acme/directory/{me.pk}/", {"name": "Me", "primary": "p0@acme.example",
                                                              "active": "on"}).status_code == 302
