"""The API's people with access: who may read and change them (as the people pages: the partner's admins, its
account manager, admins; 404 for anyone else), the page's filters, and the access services' refusals as 409."""

import pytest
from django.test import Client

from accounts.errors import ACCESS_OWN, ACCESS_STILL_OFF_IN_DIRECTORY, LAST_PARTNER_ADMIN
from accounts.models import AccessEnded, ApiTokenScope, Role, User
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import InviteState
from tests.accounts.factories import UserFactory
from tests.api import people_world
from tests.api.conftest import token_for
from tests.api.people_world import query_count, staff_api
from tests.conftest import login_with_second_factor
from tests.onboarding.factories import InviteFactory

pytestmark = pytest.mark.django_db(transaction=True)

world = people_world.world  # the fixture


def emails(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [person["email"] for person in response.json()["results"]]


def test_the_partner_s_admins_its_manager_and_admins_list_its_people_by_name(api_as, world):
    expected = ["Pat@Acme.example", "quinn@acme.example", "sam@acme.example"]
    for user in (world.partner_admin, world.manager, world.admin):
        assert emails(api_as(user, scope=ApiTokenScope.READ).get("/partners/acme/people/")) == expected
    person = api_as(world.manager).get("/partners/acme/people/").json()["results"][0]
    assert (person["full_name"], person["role"], person["status"], person["two_factor"]) == (
        "Pat Adams", "partner_admin", "active", False)


def test_partner_staff_other_managers_and_other_partners_get_404(api_as, world):
    for api in (staff_api(api_as, world), api_as(world.other_manager), api_as(world.other_admin)):
        assert api.get("/partners/acme/people/").status_code == 404
        assert api.get(f"/partners/acme/people/{world.staff.pk}/").status_code == 404
        assert api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/").status_code == 404
    # Another partner's person through this partner's slug: not found either.
    assert api_as(world.manager).get(f"/partners/acme/people/{world.other_admin.pk}/").status_code == 404
    assert api_as(world.manager).post(f"/partners/acme/people/{world.other_admin.pk}/deactivate/").status_code == 404
    world.other_admin.refresh_from_db()
    assert world.other_admin.is_active


def test_the_list_has_the_people_page_s_filters(api_as, world):
    invited = UserFactory(partner=world.partner, full_name="Ivy Invited", display_email="ivy@acme.example",
                          is_active=False)
    InviteFactory(partner=world.partner, user=invited, display_email=invited.display_email, state=InviteState.PENDING)
    api = api_as(world.partner_admin)
    assert emails(api.get("/partners/acme/people/", params={"status": "invited"})) == ["ivy@acme.example"]
    assert emails(api.get("/partners/acme/people/", params={"role": "partner_staff", "status": "active"})) == [
        "sam@acme.example"]
    assert emails(api.get("/partners/acme/people/", params={"search": "QUI"})) == ["quinn@acme.example"]
    assert emails(api.get("/partners/acme/people/", params={"search": "sam@"})) == ["sam@acme.example"]
    assert api.get("/partners/acme/people/", params={"status": "asleep"}).status_code == 400


def test_the_list_pages_with_a_cursor(api_as, world):
    api = api_as(world.manager)
    first = api.get("/partners/acme/people/", params={"page_size": 2}).json()
    assert [p["full_name"] for p in first["results"]] == ["Pat Adams", "Quinn Baker"]
    second = api.session.get(first["next"], timeout=30).json()
    assert [p["full_name"] for p in second["results"]] == ["Sam Carter"] and second["next"] is None


def test_deactivating_ends_the_person_s_sessions_and_tokens_and_is_audited_with_the_api_token(api_as, world):
    as_staff, browser = staff_api(api_as, world), Client()
    login_with_second_factor(browser, world.staff)
    assert as_staff.get("/me/").status_code == 200 and browser.get("/partners/acme/").status_code == 200

    manager_api = api_as(world.manager)
    response = manager_api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["status"] == "deactivated"
    assert as_staff.get("/me/").status_code == 401
    assert browser.get("/partners/acme/").status_code == 302  # back to sign-in
    event = AuditEvent.objects.get(action="access.deactivated", target_id=str(world.staff.pk))
    token = world.manager.api_tokens.get()
    assert event.actor == world.manager
    assert event.data["api_token"] == {"id": token.pk, "name": "tests", "prefix": token.prefix}

    again = manager_api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/")
    assert again.status_code == 409 and "has no active access" in again.json()["detail"]


def test_reactivating_gives_access_back(api_as, world):
    api = api_as(world.partner_admin)
    api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/")
    response = api.post(f"/partners/acme/people/{world.staff.pk}/reactivate/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    world.staff.refresh_from_db()
    assert world.staff.is_active and world.staff.access_ended == ""


def test_the_last_partner_admin_is_kept_with_the_service_s_message(api_as, world):
    api = api_as(world.manager)
    assert api.post(f"/partners/acme/people/{world.second_admin.pk}/deactivate/").status_code == 200
    for call in (lambda: api.post(f"/partners/acme/people/{world.partner_admin.pk}/deactivate/"),
                 lambda: api.post(f"/partners/acme/people/{world.partner_admin.pk}/remove/"),
                 lambda: api.patch(f"/partners/acme/people/{world.partner_admin.pk}/",
                                   json={"role": "partner_staff"})):
        refused = call()
        assert refused.status_code == 409 and refused.json()["detail"] == str(LAST_PARTNER_ADMIN)
    world.partner_admin.refresh_from_db()
    assert world.partner_admin.is_active and world.partner_admin.role == Role.PARTNER_ADMIN


def test_nobody_changes_their_own_access(api_as, world):
    refused = api_as(world.partner_admin).post(f"/partners/acme/people/{world.partner_admin.pk}/deactivate/")
    assert refused.status_code == 409 and refused.json()["detail"] == str(ACCESS_OWN)


def test_the_role_changes_through_the_service_and_a_wrong_one_is_refused(api_as, world):
    api = api_as(world.partner_admin)
    response = api.patch(f"/partners/acme/people/{world.staff.pk}/", json={"role": "partner_admin"})
    assert response.status_code == 200 and response.json()["role"] == "partner_admin"
    event = AuditEvent.objects.get(action="access.role_changed")
    assert event.data["from"] == "partner_staff" and event.data["to"] == "partner_admin"
    assert "api_token" in event.data
    wrong = api.patch(f"/partners/acme/people/{world.staff.pk}/", json={"role": "admin"})
    assert wrong.status_code == 400 and "role" in wrong.json()["errors"]
    assert User.objects.get(pk=world.staff.pk).role == Role.PARTNER_ADMIN


def test_removing_revokes_the_person_s_open_invitations(api_as, world):
    invite = InviteFactory(partner=world.partner, user=world.staff, display_email=world.staff.display_email,
                           state=InviteState.PENDING)
    response = api_as(world.admin).post(f"/partners/acme/people/{world.staff.pk}/remove/")
    assert response.status_code == 200 and response.json()["status"] == "removed"
    invite.refresh_from_db()
    world.staff.refresh_from_db()
    assert invite.state == InviteState.REVOKED and world.staff.access_ended == AccessEnded.REMOVED
    assert emails(api_as(world.admin).get("/partners/acme/people/")) == ["Pat@Acme.example", "quinn@acme.example"]


def test_a_read_token_changes_nothing(api_as, world):
    api = api_as(world.manager, scope=ApiTokenScope.READ)
    assert api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/").status_code == 403
    assert api.patch(f"/partners/acme/people/{world.staff.pk}/", json={"role": "partner_admin"}).status_code == 403
    world.staff.refresh_from_db()
    assert world.staff.is_active and world.staff.role == Role.PARTNER_STAFF


def test_a_retried_deactivation_with_its_idempotency_key_is_answered_again(api_as, world):
    api = api_as(world.manager)
    headers = {"Idempotency-Key": "offboard-sam-1"}
    first = api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/", headers=headers)
    again = api.post(f"/partners/acme/people/{world.staff.pk}/deactivate/", headers=headers)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="access.deactivated").count() == 1


def test_the_export_is_the_people_page_s_file_and_is_audited(api_as, world):
    response = api_as(world.partner_admin, scope=ApiTokenScope.READ).get("/partners/acme/people/export/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("name,email,role,status")
    assert [line.split(",")[1] for line in lines[1:]] == ["Pat@Acme.example", "quinn@acme.example",
                                                          "sam@acme.example"]
    event = AuditEvent.objects.get(action="people.exported")
    assert event.partner_id == world.partner.pk and event.data["api_token"]["name"] == "tests"
    assert staff_api(api_as, world).get("/partners/acme/people/export/").status_code == 404
    assert api_as(world.other_manager).get("/partners/acme/people/export/").status_code == 404


def test_a_page_of_people_costs_the_same_queries_for_three_people_as_for_thirty(world):
    token = token_for(world.manager)
    few = query_count("/partners/acme/people/", token=token)
    for n in range(27):
        person = UserFactory(partner=world.partner, full_name=f"Zed {n:02}")
        InviteFactory(partner=world.partner, user=person, display_email=person.display_email)
    assert query_count("/partners/acme/people/", token=token) == few


def test_someone_their_directory_disabled_is_not_reactivated(api_as, world):
    directory = DirectoryConnection.objects.create(partner=world.partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Pat Adams,pat@acme.example,,,yes\nQuinn Baker,quinn@acme.example,,,yes\nSam Carter,sam@acme.example,,,no\n"
    ))
    api = api_as(world.manager)
    assert api.get(f"/partners/acme/people/{world.staff.pk}/").json()["status"] == "directory_disabled"
    refused = api.post(f"/partners/acme/people/{world.staff.pk}/reactivate/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == str(ACCESS_STILL_OFF_IN_DIRECTORY).format(email=world.staff.display_email)
