"""The API's partners and agreements: each role sees what the partner list and the agreement page show it, and
another partner's slug answers 404."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import ApiTokenScope
from tests.api import people_world
from tests.api.conftest import token_for
from tests.api.people_world import query_count, staff_api
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

world = people_world.world  # the fixture


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [partner["slug"] for partner in response.json()["results"]]


def test_each_role_lists_the_partners_its_pages_show(api_as, world):
    assert slugs(api_as(world.manager).get("/partners/")) == ["acme"]
    assert slugs(api_as(world.other_manager).get("/partners/")) == ["globex"]
    assert slugs(api_as(world.admin).get("/partners/")) == ["acme", "globex"]
    assert slugs(api_as(world.partner_admin, scope=ApiTokenScope.READ).get("/partners/")) == ["acme"]
    assert slugs(staff_api(api_as, world).get("/partners/")) == ["acme"]


def test_a_partner_has_its_kind_agreement_state_and_counts(api_as, world):
    body = api_as(world.manager).get("/partners/acme/").json()
    assert (body["name"], body["kind"], body["account_manager"]) == ("Acme Networks", "msp",
                                                                      world.manager.display_email)
    assert body["agreement"]["state"] == "current" and body["agreement"]["version"] == "2026.1"
    assert body["counts"]["people_with_access"] == 3  # two partner admins and the staff member
    other = api_as(world.admin).get("/partners/globex/").json()
    assert other["kind"] == "reseller" and other["agreement"] == {
        "state": "none", "version": None, "signed_at": None, "valid_until": None}


def test_another_partner_answers_404_for_everyone_but_its_own_people(api_as, world):
    for api in (api_as(world.manager), api_as(world.partner_admin), staff_api(api_as, world)):
        assert api.get("/partners/globex/").status_code == 404
        assert api.get("/partners/globex/agreements/").status_code == 404
    assert api_as(world.other_admin).get("/partners/globex/").status_code == 200
    assert api_as(world.admin).get("/partners/nowhere/").status_code == 404


def test_the_list_is_filtered_as_on_the_partner_list(api_as, world):
    PartnerFactory(name="Acme Lapsed", slug="acme-lapsed", account_manager=world.manager)
    lapsed = PartnerFactory(name="Initech", slug="initech", account_manager=world.manager)
    AgreementFactory(partner=lapsed, signed_at=timezone.now() - datetime.timedelta(days=400),
                     valid_until=timezone.now().date() - datetime.timedelta(days=30))
    api = api_as(world.admin)
    assert slugs(api.get("/partners/", params={"search": "acme"})) == ["acme", "acme-lapsed"]
    assert slugs(api.get("/partners/", params={"kind": "reseller"})) == ["globex"]
    assert slugs(api.get("/partners/", params={"agreement": "lapsed"})) == ["initech"]
    assert slugs(api.get("/partners/", params={"agreement": "none"})) == ["acme-lapsed", "globex"]
    assert slugs(api.get("/partners/", params={"agreement": "current"})) == ["acme"]
    refused = api.get("/partners/", params={"kind": "bank"})
    assert refused.status_code == 400 and "kind" in refused.json()["errors"]


def test_the_list_pages_with_a_cursor(api_as, world):
    for n in range(3):
        PartnerFactory(slug=f"zeta-{n}", account_manager=world.manager)
    api = api_as(world.manager)
    first = api.get("/partners/", params={"page_size": 2}).json()
    assert [p["slug"] for p in first["results"]] == ["acme", "zeta-0"] and first["previous"] is None
    second = api.session.get(first["next"], timeout=30).json()
    assert [p["slug"] for p in second["results"]] == ["zeta-1", "zeta-2"] and second["next"] is None


def test_agreements_are_read_by_partner_admins_the_manager_and_admins_not_staff(api_as, world):
    AgreementFactory(partner=world.partner, version="2025.1", signed_at=timezone.now() - datetime.timedelta(days=300),
                     valid_until=timezone.now().date() - datetime.timedelta(days=2))
    for user in (world.partner_admin, world.manager, world.admin):
        body = api_as(user).get("/partners/acme/agreements/").json()
        assert [(a["version"], a["is_current"]) for a in body["results"]] == [("2026.1", True), ("2025.1", False)]
    assert staff_api(api_as, world).get("/partners/acme/agreements/").status_code == 404
    assert api_as(world.other_manager).get("/partners/acme/agreements/").status_code == 404


def test_partners_are_read_only(api_as, world):
    assert api_as(world.admin, scope=ApiTokenScope.READ).post("/partners/", json={}).status_code == 403
    assert api_as(world.admin).post("/partners/", json={}).status_code == 405


def test_a_page_of_partners_costs_the_same_queries_for_two_as_for_twenty(world):
    token = token_for(world.admin)
    few = query_count("/partners/", token=token)
    for n in range(18):
        AgreementFactory(partner=PartnerFactory(slug=f"more-{n}"))
    assert query_count("/partners/", token=token) == few
