"""The API's directory: the recipient lookup against an imported directory, and sync runs — listed, read, and
started as the admin's Sync now starts them (against a real slapd; Celery runs the task eagerly here)."""

import pytest
from django.utils import timezone

from accounts.models import ApiTokenScope
from core.models import AuditEvent
from directory_sync.errors import ALREADY_RUNNING, CSV_ACCOUNT, SYNC_QUEUED_ALREADY
from directory_sync.models import DirectoryConnection, SourceKind, SyncRun, SyncStatus
from directory_sync.services.connections import directory_connection_configure
from directory_sync.services.runs import directory_csv_import
from tests.api import people_world
from tests.api.people_world import staff_api
from tests.directory_sync.factories import DirectoryAddressFactory, DirectoryUserFactory, SyncRunFactory
from tests.ldap_data import write_ad_people
from tests.ldap_server import start_with_people

pytestmark = pytest.mark.django_db(transaction=True)

world = people_world.world  # the fixture

DIRECTORY = """name,primary,aliases,forwarding,enabled
Pat Adams,Pat@Acme.example,Pat.Adams@acme.example,pat@home.example,yes
Quinn Baker,quinn@acme.example,,,yes
Sam Carter,sam@acme.example,,,yes
Lee Gone,lee@acme.example,,,no
"""


@pytest.fixture
def imported(world):
    connection = DirectoryConnection.objects.create(partner=world.partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=DIRECTORY.encode(), actor=world.manager)
    return connection


@pytest.fixture
def slapd(tmp_path):
    server, _ = start_with_people(tmp_path, write_ad_people, 12)
    yield server
    server.stop()


def lookup(api, email: str) -> dict:
    response = api.get("/partners/acme/directory/lookup/", params={"email": email})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_lookup_answers_as_sign_in_and_onboarding_ask(api_as, world, imported):
    api = api_as(world.partner_admin, scope=ApiTokenScope.READ)
    primary = lookup(api, "PAT@acme.example")
    assert (primary["kind"], primary["may_sign_in"], primary["address"]) == ("primary", True, "pat@acme.example")
    assert primary["person_name"] == "Pat Adams" and primary["person_status"] == "active"
    alias = lookup(api, "Pat.Adams@acme.example")
    assert (alias["kind"], alias["may_sign_in"], alias["primary_address"]) == ("alias", False, "pat@acme.example")
    assert lookup(api, "pat@home.example")["kind"] == "forwarding"
    assert lookup(api, "pat@home.example")["primary_address"] == "pat@acme.example"
    assert lookup(api, "lee@acme.example")["kind"] == "disabled"
    assert lookup(api, "nobody@acme.example")["kind"] == "not_found"
    assert lookup(api, "nobody@acme.example")["person_name"] is None
    assert lookup(api, "not an address")["kind"] == "invalid"
    assert api.get("/partners/acme/directory/lookup/").status_code == 400  # no email


def test_an_address_two_people_claim_is_a_conflict_naming_both(api_as, world):
    for name in ("Ann One", "Ann Two"):
        DirectoryAddressFactory(directory_user=DirectoryUserFactory(partner=world.partner, display_name=name),
                                display_address="ann@acme.example", kind="alias", in_conflict=True)
    answer = lookup(api_as(world.manager), "ann@acme.example")
    assert answer["kind"] == "conflict" and [p["display_name"] for p in answer["claimants"]] == ["Ann One", "Ann Two"]


def test_the_lookup_is_for_those_who_keep_the_directory(api_as, world, imported):
    for user in (world.manager, world.admin):
        assert lookup(api_as(user), "pat.adams@acme.example")["kind"] == "alias"
    for api in (staff_api(api_as, world), api_as(world.other_manager), api_as(world.other_admin)):
        assert api.get("/partners/acme/directory/lookup/", params={"email": "pat@acme.example"}).status_code == 404


def test_sync_runs_are_listed_and_read_by_the_manager_and_admins_only(api_as, world, imported):
    run = SyncRun.objects.get(connection=imported)
    for user in (world.manager, world.admin):
        body = api_as(user).get("/partners/acme/sync-runs/").json()
        assert [(r["id"], r["mode"], r["status"]) for r in body["results"]] == [(run.pk, "csv", "succeeded")]
        assert body["results"][0]["counts"]["created"] == 4
        one = api_as(user).get(f"/sync-runs/{run.pk}/").json()
        assert one["partner"] == "acme" and one["finished_at"] is not None and one["counts"]["seen"] == 4
    for api in (api_as(world.partner_admin), staff_api(api_as, world), api_as(world.other_manager),
                api_as(world.other_admin)):
        assert api.get("/partners/acme/sync-runs/").status_code == 404
        assert api.get(f"/sync-runs/{run.pk}/").status_code == 404


def test_starting_a_sync_queues_the_admin_s_task_which_runs_it(api_as, world, slapd):
    directory_connection_configure(
        partner=world.partner, preset="active-directory", uri=slapd.uri, start_tls=False, bind_dn=slapd.service_dn,
        bind_password=slapd.service_password, base_dn=slapd.people_dn, user_filter="(objectClass=adLiteObject)",
    )
    api = api_as(world.manager)
    headers = {"Idempotency-Key": "nightly-2026-11-29"}
    response = api.post("/partners/acme/sync-runs/", json={"full": True}, headers=headers)
    assert response.status_code == 202, response.text
    replayed = api.post("/partners/acme/sync-runs/", json={"full": True}, headers=headers)
    assert replayed.status_code == 202 and replayed.headers["Idempotent-Replayed"] == "true"
    assert response.json()["full"] is True and response.json()["partner"] == "acme"
    run = SyncRun.objects.get(connection__partner=world.partner)
    assert run.status == SyncStatus.SUCCEEDED and run.seen == 12 and run.triggered_by == world.manager
    listed = api.get("/partners/acme/sync-runs/").json()["results"]
    assert [(r["id"], r["status"], r["counts"]["seen"]) for r in listed] == [(run.pk, "succeeded", 12)]
    queued = AuditEvent.objects.get(action="directory.sync.queued")
    assert queued.partner_id == world.partner.pk and queued.data["full"] is True and "api_token" in queued.data


def test_a_sync_is_refused_while_one_runs_or_waits(api_as, world):
    connection = directory_connection_configure(
        partner=world.partner, preset="active-directory", uri="ldap://127.0.0.1:9", start_tls=False,
        bind_dn="cn=x", bind_password="x", base_dn="dc=example", user_filter="",
    )
    running = SyncRunFactory(connection=connection)
    api = api_as(world.admin)
    refused = api.post("/partners/acme/sync-runs/", json={})
    assert refused.status_code == 409 and refused.json()["detail"] == str(ALREADY_RUNNING)
    running.status, running.finished_at = SyncStatus.FAILED, running.started_at
    running.save()
    DirectoryConnection.objects.filter(pk=connection.pk).update(sync_requested_at=timezone.now())
    waiting = api.post("/partners/acme/sync-runs/", json={})
    assert waiting.status_code == 409 and waiting.json()["detail"] == str(SYNC_QUEUED_ALREADY)
    assert not AuditEvent.objects.filter(action="directory.sync.queued").exists()


def test_a_csv_account_is_not_synced_but_imported(api_as, world, imported):
    refused = api_as(world.manager).post("/partners/acme/sync-runs/", json={})
    assert refused.status_code == 409 and refused.json()["detail"] == str(CSV_ACCOUNT)


def test_only_the_manager_and_admins_start_a_sync_and_only_with_a_write_token(api_as, world, imported):
    for api in (api_as(world.partner_admin), staff_api(api_as, world), api_as(world.other_manager)):
        assert api.post("/partners/acme/sync-runs/", json={}).status_code == 404
    assert api_as(world.manager, scope=ApiTokenScope.READ).post("/partners/acme/sync-runs/", json={}
                                                               ).status_code == 403
    assert SyncRun.objects.count() == 1  # the import's
