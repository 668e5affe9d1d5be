"""Each page of a partner's lists is read in the order of an index, never by reading and sorting all the partner's
rows: a page costs the same for a partner of fifty people as for one of fifty thousand.

The plans are checked with EXPLAIN on tables large enough (four partners of 250 lists of 6 people, statistics
gathered) that PostgreSQL would read them whole and sort if no index fitted the query.
"""

import pytest
from django.db import connection

from onboarding import selectors
from tests.accounts.factories import AdminFactory, PartnerAdminFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

LISTS, PEOPLE_PER_LIST = 250, 6
SORTS = {"Sort", "Incremental Sort"}


@pytest.fixture
def partners():
    """Four partners of 250 lists of 6 people (one in ten still to decide), each person invited (one in five
    invites not accepted yet), analysed."""
    partners = [PartnerFactory() for _ in range(4)]
    with connection.cursor() as cursor:
        for partner in partners:
            cursor.execute(
                """
                INSERT INTO onboarding_portaluserrequest (source, received_from, note, submitted_at, partner_id,
                    submitted_by_id)
                SELECT 'form', '', '', now() - g * interval '1 hour', %s, %s FROM generate_series(1, %s) g
                """,
                [partner.pk, PartnerAdminFactory(partner=partner).pk, LISTS],
            )
            cursor.execute(
                """
                INSERT INTO onboarding_requestitem (name, email, display_email, state, check_result, suggested_email,
                    rejection_reason, decided_at, created_at, updated_at, partner_id, request_id)
                SELECT 'Person', 'p' || r.id || '-' || g || '@example.test', 'p' || r.id || '-' || g || '@example.test',
                    CASE WHEN (r.id + g) %% 10 = 0 THEN 'submitted' ELSE 'accepted' END, 'primary', '', '',
                    CASE WHEN (r.id + g) %% 10 = 0 THEN NULL ELSE now() END,
                    r.submitted_at + g * interval '1 second', now(), r.partner_id, r.id
                FROM onboarding_portaluserrequest r, generate_series(1, %s) g WHERE r.partner_id = %s
                """,
                [PEOPLE_PER_LIST, partner.pk],
            )
            cursor.execute(
                """
                INSERT INTO onboarding_invite (kind, email, display_email, name, state, expires_at, send_attempts,
                    last_error, accepted_at, created_at, partner_id, item_id, next_attempt_at, token_nonce)
                SELECT 'invite', email, display_email, name, CASE WHEN id %% 5 = 0 THEN 'pending' ELSE 'accepted' END,
                    created_at + interval '9 days', 0, '', CASE WHEN id %% 5 = 0 THEN NULL ELSE now() END,
                    created_at + interval '1 day', partner_id, id, now(), ''
                FROM onboarding_requestitem WHERE partner_id = %s
                """,
                [partner.pk],
            )
        for table in ("onboarding_portaluserrequest", "onboarding_requestitem", "onboarding_invite"):
            cursor.execute(f"ANALYZE {table}")
    return partners


def brief(nodes: list[dict]) -> str:
    """The plan's nodes in a line, for an assertion's message."""
    return "; ".join(f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name') or ''}".strip() for n in nodes)


def plan_nodes(queryset) -> list[dict]:
    """Every node of the plan PostgreSQL chooses for the queryset."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0][0]["Plan"]
    nodes, todo = [], [plan]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def assert_paged_in_index_order(queryset, index: str, *, later: int) -> None:
    """The first page and a later one are read from `index`, in its order: no sort of the partner's rows, no reading
    the table whole."""
    for page in (queryset[:25], queryset[later:later + 25]):
        nodes = plan_nodes(page)
        assert index in {node.get("Index Name") for node in nodes}, brief(nodes)
        assert not [node for node in nodes if node["Node Type"] in SORTS | {"Seq Scan"}], brief(nodes)


def test_a_partners_requested_people_are_paged_newest_first_from_an_index(partners):
    assert_paged_in_index_order(selectors.partner_items(partner=partners[1]), "request_item_partner_newest", later=50)


def test_a_partners_pending_people_are_paged_from_a_small_index_of_them(partners):
    page = selectors.partner_pending_items(partner=partners[1])[:25]
    nodes = plan_nodes(page)
    assert "request_item_partner_pending" in {node.get("Index Name") for node in nodes}, brief(nodes)
    assert not [node for node in nodes if node["Node Type"] in SORTS | {"Seq Scan"}], brief(nodes)


def test_a_partners_lists_are_paged_newest_first_from_an_index(partners):
    assert_paged_in_index_order(selectors.partner_requests(partner=partners[2]), "request_partner_newest", later=50)


def test_a_partners_invites_not_accepted_are_paged_newest_first_from_an_index(partners):
    page = selectors.partner_invites(partner=partners[3])[:25]
    nodes = plan_nodes(page)
    assert "invite_partner_not_accepted" in {node.get("Index Name") for node in nodes}, brief(nodes)
    assert not [node for node in nodes if node["Node Type"] in SORTS | {"Seq Scan"}], brief(nodes)


def test_the_review_queue_takes_each_lists_items_to_decide_from_an_index(partners):
    nodes = plan_nodes(selectors.review_queue(user=AdminFactory())[:50])
    assert "request_item_to_review" in {node.get("Index Name") for node in nodes}, brief(nodes)
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"
                and node.get("Relation Name") == "onboarding_requestitem"], brief(nodes)
