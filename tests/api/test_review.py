"""The API's review queue and decisions through a real HTTP client against the live server: the queue of the
partners one manages, filtered as the review page is; approving and rejecting, answered with each person's outcome
and audited with the token; for every role, idempotent on retry, and deciding nothing when another partner's person
is named."""

import pytest

from accounts.models import ApiTokenScope, User
from onboarding.errors import NOTHING_CHOSEN, REASON_REQUIRED
from onboarding.models import Invite, ItemState, RequestItem
from partners.models import PartnerKind
from tests.accounts.factories import AdminFactory
from tests.api.requests_world import client_of, events, msp_partner, submitted
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def msp():
    return msp_partner()


# --- the review queue -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [
    ("partner_admin", 403), ("partner_staff", 403), ("account_manager", 200), ("other_account_manager", 200),
    ("admin", 200),
])
def test_the_review_queue_holds_the_people_of_the_partners_one_manages(api_as, msp, role, expected):
    items = submitted(msp, "Ada.Lovelace@Partner.example", "nia@partner.example")
    response = client_of(api_as, role, msp, scope=ApiTokenScope.READ).get("/review/")
    assert response.status_code == expected
    if expected == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert ids == ([] if role == "other_account_manager" else [item.pk for item in items])


def test_the_review_queue_is_filtered_as_the_review_page_is(api_as, msp):
    items = submitted(msp, "Ada.Lovelace@Partner.example", "nia@partner.example")
    RequestItem.objects.filter(pk=items[0].pk).update(check_result="primary")
    second = msp_partner(account_manager=msp.account_manager)
    other_items = submitted(second, "grace@partner.example")
    client = api_as(msp.account_manager)
    assert [row["id"] for row in client.get("/review/").json()["results"]] == [
        *(item.pk for item in items), other_items[0].pk]
    by_partner = client.get("/review/", params={"partner": second.slug}).json()["results"]
    assert [(row["id"], row["partner"]) for row in by_partner] == [(other_items[0].pk, second.slug)]
    by_check = client.get("/review/", params={"check": "primary"}).json()["results"]
    assert [row["id"] for row in by_check] == [items[0].pk]
    by_list = client.get("/review/", params={"request": items[0].request_id, "q": "nia"}).json()["results"]
    assert [row["id"] for row in by_list] == [items[1].pk]
    assert client.get("/review/", params={"partner": msp_partner().slug}).status_code == 404
    assert client.get("/review/", params={"check": "maybe"}).status_code == 400


# --- decisions --------------------------------------------------------------------------------------------------------


def test_approving_answers_each_persons_outcome_and_refuses_who_was_decided(api_as, msp):
    ada, nia, alias, done = submitted(msp, "Ada.Lovelace@Partner.example", "nia@partner.example",
                                      "ada@partner.example", "grace@partner.example")
    RequestItem.objects.filter(pk=done.pk).update(state=ItemState.REJECTED, rejection_reason="no",
                                                  decided_at=ada.created_at)
    response = api_as(msp.account_manager).post("/review/approve/", json={"items": [ada.pk, nia.pk, alias.pk,
                                                                                    done.pk]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {(row["id"], row["state"], row["directory"]) for row in body["decided"]} == {
        (ada.pk, "validated", ""), (nia.pk, "awaiting_validation", "not_found"), (alias.pk, "invalid_address", "alias")}
    assert body["refused"] == [{"id": done.pk, "email": "grace@partner.example",
                                "detail": "This item is rejected; it cannot be approved."}]
    groups = {group["outcome"]: group for group in body["outcomes"]}
    assert {entry["id"] for group in groups.values() for entry in group["people"]} == {ada.pk, nia.pk, alias.pk}
    assert all(group["next_step"] and group["heading"] for group in groups.values())
    assert [entry["id"] for entry in groups["invited"]["people"]] == [ada.pk]
    ada.refresh_from_db()
    assert ada.decided_by == msp.account_manager and Invite.objects.get(item=ada).email == ada.email
    approved = events("request.item_approved")
    assert len(approved) == 3 and all(event.data["api_token"]["name"] == "tests" for event in approved)


def test_approving_a_resellers_people_creates_their_accounts(api_as):
    reseller = PartnerFactory(kind=PartnerKind.RESELLER)
    AgreementFactory(partner=reseller)
    [item] = submitted(reseller, "sam@reseller.example")
    body = api_as(reseller.account_manager).post("/review/approve/", json={"items": [item.pk]}).json()
    assert [(row["id"], row["state"], row["partner"]) for row in body["decided"]] == [
        (item.pk, "account_created", reseller.slug)]
    assert [group["outcome"] for group in body["outcomes"]] == ["account_created"]
    assert User.objects.get(email="sam@reseller.example").partner == reseller


def test_rejecting_needs_a_reason_and_records_it(api_as, msp):
    [item] = submitted(msp, "nia@partner.example")
    client = api_as(AdminFactory())
    missing = client.post("/review/reject/", json={"items": [item.pk]})
    assert missing.status_code == 400 and missing.json()["errors"]["reason"] == [str(REASON_REQUIRED)]
    assert client.post("/review/reject/", json={"items": [item.pk], "reason": "a\nb"}).status_code == 400
    assert client.post("/review/reject/", json={"items": [], "reason": "x"}).json()["errors"]["items"] == [
        str(NOTHING_CHOSEN)]
    response = client.post("/review/reject/", json={"items": [item.pk], "reason": "Not one of ours"})
    assert response.status_code == 200
    assert [(row["id"], row["state"]) for row in response.json()["decided"]] == [(item.pk, "rejected")]
    [event] = events("request.item_rejected")
    assert event.data["reason"] == "Not one of ours" and event.data["api_token"]["prefix"]
    item.refresh_from_db()
    assert (item.state, item.rejection_reason) == (ItemState.REJECTED, "Not one of ours")


@pytest.mark.parametrize(("role", "expected"), [
    ("partner_admin", 403), ("partner_staff", 403), ("account_manager", 200), ("other_account_manager", 404),
    ("admin", 200),
])
def test_who_may_decide_is_who_may_on_the_review_page(api_as, msp, role, expected):
    [item] = submitted(msp, "nia@partner.example")
    response = client_of(api_as, role, msp).post("/review/reject/", json={"items": [item.pk], "reason": "No"})
    assert response.status_code == expected
    item.refresh_from_db()
    assert item.state == (ItemState.REJECTED if expected == 200 else ItemState.SUBMITTED)


def test_a_decision_naming_another_partners_person_decides_nothing(api_as, msp):
    [mine] = submitted(msp, "Ada.Lovelace@Partner.example")
    [theirs] = submitted(msp_partner(), "grace@partner.example")
    client = api_as(msp.account_manager)
    assert client.post("/review/approve/", json={"items": [mine.pk, theirs.pk]}).status_code == 404
    assert client.post("/review/approve/", json={"items": [mine.pk, 999999]}).status_code == 404
    assert set(RequestItem.objects.values_list("state", flat=True)) == {ItemState.SUBMITTED}
    assert not events("request.item_approved")


def test_a_read_token_may_not_decide(api_as, msp):
    [item] = submitted(msp, "nia@partner.example")
    response = api_as(msp.account_manager, scope=ApiTokenScope.READ).post("/review/approve/",
                                                                          json={"items": [item.pk]})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.state == ItemState.SUBMITTED


def test_a_retried_decision_with_the_same_key_decides_once(api_as, msp):
    [item] = submitted(msp, "Ada.Lovelace@Partner.example")
    client = api_as(msp.account_manager)
    key = {"Idempotency-Key": "approve-1"}
    first = client.post("/review/approve/", json={"items": [item.pk]}, headers=key)
    again = client.post("/review/approve/", json={"items": [item.pk]}, headers=key)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert first.json()["refused"] == [] and len(events("request.item_approved")) == 1
    without_key = client.post("/review/approve/", json={"items": [item.pk]}).json()
    assert without_key["decided"] == [] and without_key["refused"][0]["id"] == item.pk
