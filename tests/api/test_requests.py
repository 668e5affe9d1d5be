"""The API's lists through a real HTTP client against the live server: submitting a list (JSON or CSV, checked as
the list form checks it, idempotent on retry) and reading each person's state and directory check, for every role;
nothing of another partner's reachable."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiTokenScope
from onboarding.models import ItemState, PortalUserRequest, RequestItem
from partners.models import PartnerKind
from tests.accounts.factories import PartnerAdminFactory
from tests.api.conftest import token_for
from tests.api.requests_world import (
    ADA,
    ALIAS,
    NIA,
    client_of,
    events,
    msp_partner,
    queries_of,
    staff_with_token,
    submitted,
)
from tests.onboarding.factories import RequestItemFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def msp():
    return msp_partner()


# --- submitting a list ------------------------------------------------------------------------------------------------


def test_a_partner_admin_submits_a_list_and_reads_each_persons_directory_check(api_as, msp):
    admin = PartnerAdminFactory(partner=msp)
    response = api_as(admin).post(f"/partners/{msp.slug}/requests/",
                                  json={"people": [ADA, ALIAS, NIA], "note": "new starters"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["partner"], body["source"], body["submitted_by"], body["note"]) == (
        msp.slug, "api", admin.display_email, "new starters")
    assert (body["people"], body["pending"]) == (3, 3)
    checks = [(item["email"], item["state"], item["role"], item["check"]["result"], item["check"]["suggested_email"])
              for item in body["items"]]
    assert checks == [
        ("Ada.Lovelace@Partner.example", "submitted", "partner_staff", "primary", ""),
        ("ada@partner.example", "submitted", "partner_staff", "alias", "ada.lovelace@partner.example"),
        ("nia@partner.example", "submitted", "partner_admin", "not_found", ""),
    ]
    assert body["items"][0]["check"]["label"] == "Primary address"
    portal_request = PortalUserRequest.objects.get()
    assert portal_request.pk == body["id"] and portal_request.items.count() == 3


def test_every_submitted_person_is_audited_with_the_token_it_came_through(api_as, msp):
    admin = PartnerAdminFactory(partner=msp)
    api_as(admin).post(f"/partners/{msp.slug}/requests/", json={"people": [ADA, NIA]})
    submitted_events = events("request.item_submitted")
    assert len(submitted_events) == 2
    for event in submitted_events:
        assert event.actor == admin and event.data["api_token"]["name"] == "tests"
        assert event.data["api_token"]["prefix"] and event.ip_address == "127.0.0.1"


@pytest.mark.parametrize(("role", "expected", "source"), [
    ("partner_admin", 201, "api"),
    ("partner_staff", 403, None),
    ("account_manager", 201, "on_behalf"),
    ("other_account_manager", 404, None),
    ("admin", 201, "on_behalf"),
])
def test_who_may_submit_a_list_is_who_may_on_the_list_form(api_as, msp, role, expected, source):
    response = client_of(api_as, role, msp).post(f"/partners/{msp.slug}/requests/", json={"people": [ADA]})
    assert response.status_code == expected, response.text
    assert list(PortalUserRequest.objects.values_list("source", flat=True)) == ([source] if source else [])


def test_a_list_for_another_partner_is_not_found(api_as, msp):
    other = msp_partner()
    admin = PartnerAdminFactory(partner=msp)
    assert api_as(admin).post(f"/partners/{other.slug}/requests/", json={"people": [ADA]}).status_code == 404
    assert api_as(admin).post("/partners/no-such-partner/requests/", json={"people": [ADA]}).status_code == 404
    assert not PortalUserRequest.objects.exists()


def test_a_read_token_may_not_submit_a_list(api_as, msp):
    response = api_as(PartnerAdminFactory(partner=msp), scope=ApiTokenScope.READ).post(
        f"/partners/{msp.slug}/requests/", json={"people": [ADA]})
    assert response.status_code == 403
    assert not PortalUserRequest.objects.exists()


def test_a_list_with_bad_rows_is_refused_whole_with_each_rows_reason(api_as, msp):
    people = [ADA, {"name": "", "email": "x@partner.example"}, {"name": "Bad", "email": "not-an-address"},
              {"name": "Ada twice", "email": "ADA.lovelace@partner.example"},
              {"name": "Role", "email": "r@partner.example", "role": "boss"}]
    response = api_as(PartnerAdminFactory(partner=msp)).post(f"/partners/{msp.slug}/requests/",
                                                             json={"people": people})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "The list was not submitted: see the errors of each row."
    assert [row["row"] for row in body["errors"]["rows"]] == [2, 3, 4, 5]
    reasons = [row["detail"] for row in body["errors"]["rows"]]
    assert reasons[0] == "the name is missing" and "not an email address" in reasons[1]
    assert reasons[2] == "ADA.lovelace@partner.example is already in row 1"
    assert reasons[3] == "the role 'boss' is neither staff nor admin"
    assert not PortalUserRequest.objects.exists() and not RequestItem.objects.exists()
    assert not events("request.item_submitted")


def test_an_empty_list_and_a_note_of_several_lines_are_refused(api_as, msp):
    client = api_as(PartnerAdminFactory(partner=msp))
    empty = client.post(f"/partners/{msp.slug}/requests/", json={"people": []})
    assert empty.status_code == 400 and empty.json()["errors"]["rows"][0]["row"] == 1
    note = client.post(f"/partners/{msp.slug}/requests/", json={"people": [ADA], "note": "one\ntwo"})
    assert note.status_code == 400 and "note" in note.json()["errors"]
    assert client.post(f"/partners/{msp.slug}/requests/", json={"note": "x"}).status_code == 400
    assert not PortalUserRequest.objects.exists()


def test_without_a_current_agreement_no_list_is_submitted(api_as):
    partner = PartnerFactory(kind=PartnerKind.MSP)
    response = api_as(PartnerAdminFactory(partner=partner)).post(f"/partners/{partner.slug}/requests/",
                                                                 json={"people": [ADA]})
    assert response.status_code == 409
    assert not PortalUserRequest.objects.exists()


def test_a_csv_file_is_submitted_through_the_same_checks(api_as, msp):
    client = api_as(PartnerAdminFactory(partner=msp))
    data = b"email,name,role\nAda.Lovelace@Partner.example,Ada Lovelace,\nnia@partner.example,Nia,admin\n"
    response = client.post(f"/partners/{msp.slug}/requests/", files={"file": ("list.csv", data, "text/csv")},
                           data={"note": "from HR"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["note"]) == ("api", "from HR")
    assert [(item["email"], item["role"], item["check"]["result"]) for item in body["items"]] == [
        ("Ada.Lovelace@Partner.example", "partner_staff", "primary"),
        ("nia@partner.example", "partner_admin", "not_found"),
    ]


def test_a_csv_file_with_a_bad_row_names_the_files_row_and_writes_nothing(api_as, msp):
    client = api_as(PartnerAdminFactory(partner=msp))
    data = b"name,email\nAda Lovelace,Ada.Lovelace@Partner.example\n\nNobody,nobody-at-all\n"
    response = client.post(f"/partners/{msp.slug}/requests/", files={"file": ("list.csv", data, "text/csv")})
    assert response.status_code == 400
    assert [row["row"] for row in response.json()["errors"]["rows"]] == [4]
    no_header = client.post(f"/partners/{msp.slug}/requests/", files={"file": ("l.csv", b"a,b\nx,y\n", "text/csv")})
    assert no_header.json()["errors"]["rows"] == [
        {"row": 1, "detail": "the header row must name the columns name and email"}]
    assert not PortalUserRequest.objects.exists()


def test_a_retried_submission_with_the_same_key_gets_the_first_answer_and_makes_one_list(api_as, msp):
    client = api_as(PartnerAdminFactory(partner=msp))
    path, key = f"/partners/{msp.slug}/requests/", {"Idempotency-Key": "list-2026-11-29"}
    first = client.post(path, json={"people": [ADA, NIA]}, headers=key)
    again = client.post(path, json={"people": [ADA, NIA]}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert PortalUserRequest.objects.count() == 1 and len(events("request.item_submitted")) == 2

    other_body = client.post(path, json={"people": [ADA]}, headers=key)
    assert other_body.status_code == 422
    assert PortalUserRequest.objects.count() == 1
    assert client.post(path, json={"people": [ADA]}, headers={"Idempotency-Key": "another"}).status_code == 201
    assert PortalUserRequest.objects.count() == 2


def test_a_csv_file_over_the_size_limit_is_refused_before_it_is_read(api_as, msp, settings):
    settings.REQUEST_LIST_MAX_BYTES = 40
    data = b"name,email\nAda Lovelace,Ada.Lovelace@Partner.example\n"
    response = api_as(PartnerAdminFactory(partner=msp)).post(
        f"/partners/{msp.slug}/requests/", files={"file": ("list.csv", data, "text/csv")})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The file is ") and "Split it into smaller lists." in response.text
    assert not PortalUserRequest.objects.exists()


def test_a_retried_csv_upload_with_the_same_key_and_file_makes_one_list(api_as, msp):
    """A client draws a new multipart boundary for each try: the same fields and file are the same request."""
    client = api_as(PartnerAdminFactory(partner=msp))
    csv = b"name,email\r\nAda Lovelace,Ada.Lovelace@Partner.example\r\n"
    headers = {"Idempotency-Key": "csv-1"}
    first = client.post(f"/partners/{msp.slug}/requests/", files={"file": ("list.csv", csv, "text/csv")},
                        headers=headers)
    again = client.post(f"/partners/{msp.slug}/requests/", files={"file": ("list.csv", csv, "text/csv")},
                        headers=headers)
    assert first.request.headers["Content-Type"] != again.request.headers["Content-Type"]  # two boundaries
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and first.json()["source"] == "api"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert PortalUserRequest.objects.count() == 1
    other_file = client.post(f"/partners/{msp.slug}/requests/", headers=headers,
                             files={"file": ("list.csv", csv.replace(b"Ada", b"Bea"), "text/csv")})
    assert other_file.status_code == 422 and PortalUserRequest.objects.count() == 1


# --- reading lists ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [
    ("partner_admin", 200), ("partner_staff", 200), ("account_manager", 200), ("other_account_manager", 404),
    ("admin", 200),
])
def test_a_partners_lists_and_each_list_are_read_by_who_sees_the_partner(api_as, msp, role, expected):
    [item] = submitted(msp, "Ada.Lovelace@Partner.example")
    client = client_of(api_as, role, msp, scope=ApiTokenScope.READ)
    lists = client.get(f"/partners/{msp.slug}/requests/")
    detail = client.get(f"/requests/{item.request_id}/")
    assert (lists.status_code, detail.status_code) == (expected, expected)
    if expected == 200:
        assert [row["id"] for row in lists.json()["results"]] == [item.request_id]
        assert [row["id"] for row in detail.json()["items"]] == [item.pk]


def test_a_list_of_another_partner_is_not_found_by_its_id(api_as, msp):
    [item] = submitted(msp_partner(), "grace@partner.example")
    client = api_as(PartnerAdminFactory(partner=msp))
    assert client.get(f"/requests/{item.request_id}/").status_code == 404
    assert client.get("/requests/999999/").status_code == 404


def test_the_lists_come_a_page_at_a_time_newest_first_and_filtered(api_as, msp):
    lists = [submitted(msp, f"p{n}@partner.example")[0].request for n in range(5)]
    PortalUserRequest.objects.filter(pk=lists[0].pk).update(source="csv")
    client = staff_with_token(api_as, msp)
    seen, url = [], f"/partners/{msp.slug}/requests/?page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url = page["next"] and page["next"].split("/api/v1", 1)[1]
    assert seen == [portal_request.pk for portal_request in reversed(lists)]
    only_csv = client.get(f"/partners/{msp.slug}/requests/", params={"source": "csv"}).json()["results"]
    assert [row["id"] for row in only_csv] == [lists[0].pk]
    found = client.get(f"/partners/{msp.slug}/requests/", params={"q": "p3"}).json()["results"]
    assert [row["id"] for row in found] == [lists[3].pk]
    assert client.get(f"/partners/{msp.slug}/requests/", params={"source": "fax"}).status_code == 400


def test_a_decided_person_shows_the_decision_and_its_reason(api_as, msp):
    items = submitted(msp, "Ada.Lovelace@Partner.example", "grace@partner.example")
    manager = msp.account_manager
    api_as(manager).post("/review/reject/", json={"items": [items[1].pk], "reason": "Left the company"})
    detail = api_as(PartnerAdminFactory(partner=msp)).get(f"/requests/{items[0].request_id}/").json()
    rejected = detail["items"][1]
    assert (rejected["state"], rejected["rejection_reason"], rejected["decided_by"]) == (
        "rejected", "Left the company", manager.display_email)
    assert rejected["decided_at"] and detail["items"][0]["decided_at"] is None
    assert (detail["people"], detail["pending"]) == (2, 1)


# --- cost -------------------------------------------------------------------------------------------------------------


def test_the_lists_a_list_and_the_queue_cost_the_same_queries_for_few_people_and_many(msp):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(msp.account_manager)}")
    portal_request = submitted(msp, "a@partner.example", "b@partner.example")[0].request
    paths = [f"/api/v1/partners/{msp.slug}/requests/", f"/api/v1/requests/{portal_request.pk}/", "/api/v1/review/"]
    queries_of(client, paths[0])  # the token's first use notes it: not part of what an answer costs
    few = [queries_of(client, path) for path in paths]
    for n in range(6):
        submitted(msp, f"more{n}@partner.example", f"others{n}@partner.example")
        RequestItemFactory(request=portal_request, display_email=f"late{n}@partner.example")
    RequestItem.objects.filter(request=portal_request).update(  # decided: each names who decided
        state=ItemState.REJECTED, rejection_reason="No", decided_at=portal_request.submitted_at,
        decided_by=msp.account_manager)
    assert [queries_of(client, path) for path in paths] == few
