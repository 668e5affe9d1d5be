"""The hot address queries are answered from an index on (partner, address), never by reading the table.

A lookup must cost the same whether the table holds one account or a vendor's thousands: the plans
are checked with EXPLAIN on a table large enough (several accounts, statistics gathered) that
PostgreSQL reads it whole when no index fits the query.
"""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from directory_sync.mapping import build_person
from directory_sync.selectors import recipient_lookup, recipient_lookups
from directory_sync.services.writer import Writer
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

ADDRESSES = "directory_sync_directoryaddress"  # spelled out: the SQL below is fixed text
BY_ADDRESS = {"directory_address_unique_per_account", "directory_address_conflicts"}
PEOPLE_PER_ACCOUNT = 1500


@pytest.fixture
def accounts():
    """Four accounts of 1,500 people with a primary address and an alias each (one conflict), analysed."""
    partners = [PartnerFactory() for _ in range(4)]
    with db_connection.cursor() as cursor:
        for partner in partners:
            cursor.execute(
                """
                INSERT INTO directory_sync_directoryuser (partner_id, external_id, dn, display_name, status,
                    content_hash, source_hash, first_seen_at)
                SELECT %s, 'id-' || g, 'cn=p' || g, 'Person ' || g, 'active', '', '', now()
                FROM generate_series(1, %s) g
                """,
                [partner.pk, PEOPLE_PER_ACCOUNT],
            )
            for kind, prefix in (("primary", "p"), ("alias", "a")):
                cursor.execute(
                    """
                    INSERT INTO directory_sync_directoryaddress (partner_id, directory_user_id, address,
                        display_address, kind, in_conflict)
                    SELECT partner_id, id, %s || external_id || '@example.test', %s || external_id || '@example.test',
                        %s, false
                    FROM directory_sync_directoryuser WHERE partner_id = %s
                    """,
                    [prefix, prefix, kind, partner.pk],
                )
        cursor.execute(
            "UPDATE directory_sync_directoryaddress SET in_conflict = true WHERE address = 'aid-7@example.test'"
        )
        cursor.execute("ANALYZE directory_sync_directoryaddress")
        cursor.execute("ANALYZE directory_sync_directoryuser")
    return partners


def plan_nodes(sql: str, params=None) -> list[dict]:
    """Every node of the plan PostgreSQL chooses for `sql`."""
    with db_connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0][0]["Plan"]
    nodes, todo = [], [plan]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def assert_read_by_index(sql: str, indexes: set[str], params=None) -> None:
    nodes = plan_nodes(sql, params)
    on_addresses = [n for n in nodes if n.get("Relation Name") == ADDRESSES or n.get("Index Name") in indexes]
    assert not [n for n in on_addresses if n["Node Type"] == "Seq Scan"], nodes
    assert {n.get("Index Name") for n in on_addresses} & indexes, nodes


def captured(call) -> list[str]:
    with CaptureQueriesContext(db_connection) as queries:
        call()
    return [q["sql"] for q in queries.captured_queries]


def test_the_table_is_large_enough_that_an_unindexed_lookup_reads_it_whole(accounts):
    # The control: the lookup's condition without its conflict-state arms fits no index.
    sql = "SELECT id FROM directory_sync_directoryaddress WHERE partner_id = %s AND address = %s"
    nodes = plan_nodes(sql, [accounts[0].pk, "pid-5@example.test"])
    assert [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == ADDRESSES]


def test_a_single_lookup_uses_the_address_indexes(accounts):
    (sql, second) = captured(lambda: recipient_lookup(partner_id=accounts[1].pk, address="AID-5@example.test"))
    assert_read_by_index(sql, BY_ADDRESS)
    assert_read_by_index(second, {"directory_user_one_primary_address"})


def test_a_lookup_of_a_conflict_uses_the_address_indexes(accounts):
    (sql,) = captured(lambda: recipient_lookup(partner_id=accounts[0].pk, address="aid-7@example.test"))
    assert_read_by_index(sql, BY_ADDRESS)


def test_a_bulk_lookup_uses_the_address_indexes(accounts):
    asked = [f"aid-{n}@example.test" for n in range(1, 40)] + [f"pid-{n}@example.test" for n in range(1, 40)]
    (sql, second) = captured(lambda: recipient_lookups(partner_id=accounts[2].pk, addresses=asked))
    assert_read_by_index(sql, BY_ADDRESS)
    assert_read_by_index(second, {"directory_user_one_primary_address"})


def new_people(count: int, *, alias: str):
    people = [build_person(external_id=f"new-{n}", dn=f"cn=new-{n}", name="", disabled=False,
                           primary=f"new-{n}@example.test", aliases=[], forwarding=[]) for n in range(count)]
    people[0] = build_person(external_id="new-0", dn="cn=new-0", name="", disabled=False,
                             primary="new-0@example.test", aliases=[alias], forwarding=[])
    return people


def write_new(partner, people) -> list[str]:
    new = {p.external_id for p in people}
    return captured(lambda: Writer(partner_id=partner.pk).write_people(people, new=new))


def test_the_first_syncs_look_up_of_held_addresses_uses_the_address_indexes(accounts):
    # A new person claims an address someone owns: the COPY refuses it, and the batch's addresses are looked up.
    queries = write_new(accounts[3], new_people(50, alias="aid-5@example.test"))
    (held,) = [sql for sql in queries if sql.startswith("SELECT DISTINCT address") and "NOT in_conflict" in sql]
    assert_read_by_index(held, BY_ADDRESS)


def test_the_first_syncs_look_up_of_addresses_in_conflict_uses_their_index(accounts):
    queries = write_new(accounts[0], new_people(50, alias="new-alias@example.test"))  # the account has a conflict
    probe, held = [sql for sql in queries if "in_conflict" in sql and sql.startswith("SELECT")][:2]
    assert_read_by_index(probe, {"directory_address_conflicts"})
    assert_read_by_index(held, {"directory_address_conflicts"})
