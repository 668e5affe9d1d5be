"""The API's audit trail: admins read all of it, an account manager their partners' events, a partner's people
none (their pages show them timelines, not the trail); filtered by time, actor, action and partner; newest first."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from accounts.models import ApiTokenScope
from core.audit import audit_record
from tests.api import people_world
from tests.api.conftest import token_for
from tests.api.people_world import query_count, staff_api
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

world = people_world.world  # the fixture

MONDAY = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def trail(world):
    """Three events of the partner (Monday, Tuesday, Wednesday), one of the other partner, one of none."""
    for day, action in enumerate(("invite.sent", "access.deactivated", "invite.sent")):
        with time_machine.travel(MONDAY + datetime.timedelta(days=day), tick=False):
            audit_record(actor=world.manager if day != 1 else world.admin, action=action, partner=world.partner,
                         target=world.staff)
    with time_machine.travel(MONDAY, tick=False):
        audit_record(actor=world.other_manager, action="invite.sent", partner=world.other)
        audit_record(actor=None, action="mail.purged")
    return world


def actions(response) -> list[tuple[str, str, str | None]]:
    assert response.status_code == 200, response.text
    return [(e["created_at"][:10], e["action"], e["partner"]) for e in response.json()["results"]]


def test_admins_read_every_event_newest_first(api_as, trail):
    events = actions(api_as(trail.admin, scope=ApiTokenScope.READ).get("/audit-events/",
                                                                        params={"until": "2026-11-05T00:00:00Z"}))
    assert events == [("2026-11-04", "invite.sent", "acme"), ("2026-11-03", "access.deactivated", "acme"),
                      ("2026-11-02", "mail.purged", None), ("2026-11-02", "invite.sent", "globex"),
                      ("2026-11-02", "invite.sent", "acme")]


def test_an_account_manager_reads_only_their_partners_events(api_as, trail):
    events = actions(api_as(trail.manager).get("/audit-events/", params={"until": "2026-11-05T00:00:00Z"}))
    assert [partner for _day, _action, partner in events] == ["acme", "acme", "acme"]
    assert actions(api_as(trail.other_manager).get("/audit-events/", params={"until": "2026-11-05T00:00:00Z"})) == [
        ("2026-11-02", "invite.sent", "globex")]
    assert api_as(trail.manager).get("/audit-events/", params={"partner": "globex"}).status_code == 404


def test_a_partner_s_people_do_not_read_the_trail(api_as, trail):
    for api in (api_as(trail.partner_admin), staff_api(api_as, trail)):
        assert api.get("/audit-events/").status_code == 404


def test_events_are_filtered_by_time_actor_action_and_partner(api_as, trail):
    api = api_as(trail.admin)
    until = {"until": "2026-11-05T00:00:00Z"}
    assert actions(api.get("/audit-events/", params={"since": "2026-11-03T00:00:00Z", **until})) == [
        ("2026-11-04", "invite.sent", "acme"), ("2026-11-03", "access.deactivated", "acme")]
    assert actions(api.get("/audit-events/", params={"since": "2026-11-02T00:00:00+01:00",
                                                     "until": "2026-11-03T09:00:00Z"})) == [
        ("2026-11-02", "mail.purged", None), ("2026-11-02", "invite.sent", "globex"),
        ("2026-11-02", "invite.sent", "acme")]
    by_actor = api.get("/audit-events/", params={"actor": trail.admin.display_email.upper(), **until})
    assert actions(by_actor) == [("2026-11-03", "access.deactivated", "acme")]
    assert by_actor.json()["results"][0]["actor"] == trail.admin.email
    assert actions(api.get("/audit-events/", params={"action": "invite.sent", "partner": "acme", **until})) == [
        ("2026-11-04", "invite.sent", "acme"), ("2026-11-02", "invite.sent", "acme")]
    wrong = api.get("/audit-events/", params={"since": "last tuesday"})
    assert wrong.status_code == 400 and "since" in wrong.json()["errors"]


def test_the_trail_pages_with_a_cursor(api_as, trail):
    api = api_as(trail.manager)
    first = api.get("/audit-events/", params={"page_size": 2, "until": "2026-11-05T00:00:00Z"}).json()
    second = api.session.get(first["next"], timeout=30).json()
    days = [e["created_at"][:10] for e in first["results"] + second["results"]]
    assert days == ["2026-11-04", "2026-11-03", "2026-11-02"] and second["next"] is None


def test_a_change_made_through_the_api_names_its_token_in_the_trail(api_as, trail):
    api = api_as(trail.manager)
    api.post(f"/partners/acme/people/{trail.staff.pk}/deactivate/")
    since = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()
    events = api.get("/audit-events/", params={"action": "access.deactivated", "since": since}).json()["results"]
    token = trail.manager.api_tokens.get()
    assert [e["data"]["api_token"] for e in events] == [{"id": token.pk, "name": "tests", "prefix": token.prefix}]
    assert events[0]["actor"] == trail.manager.email and events[0]["target_id"] == str(trail.staff.pk)


def test_a_page_of_events_costs_the_same_queries_for_few_partners_as_for_many(trail):
    token = token_for(trail.admin)
    few = query_count("/audit-events/", token=token)
    for n in range(20):
        audit_record(actor=trail.manager, action="invite.sent", partner=PartnerFactory(slug=f"more-{n}"))
    assert query_count("/audit-events/", token=token) == few
