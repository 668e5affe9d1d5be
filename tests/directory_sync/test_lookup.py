"""The bulk recipient lookup: the single lookup's answers for many addresses, in a fixed number of queries."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from directory_sync.models import AddressKind
from directory_sync.selectors import LookupKind, recipient_lookup, recipient_lookups
from tests.directory_sync.factories import DirectoryAddressFactory, DirectoryConnectionFactory, DirectoryUserFactory
from tests.directory_sync.test_engine import apply, person

pytestmark = pytest.mark.django_db

ASKED = {
    "ann@example.test": LookupKind.PRIMARY,
    "ANN@Example.TEST": LookupKind.PRIMARY,
    "a.nn@example.test": LookupKind.ALIAS,
    "ann@forward.example": LookupKind.FORWARDING,
    "dan@example.test": LookupKind.DISABLED,
    "dan.alias@example.test": LookupKind.DISABLED,
    "team@example.test": LookupKind.CONFLICT,
    "eve@example.test": LookupKind.NOT_FOUND,
    "nobody@example.test": LookupKind.NOT_FOUND,
    "not an address": LookupKind.INVALID,
    "": LookupKind.INVALID,
}


@pytest.fixture
def connection():
    connection = DirectoryConnectionFactory()
    ann = person("ann", "Ann@Example.test", aliases=["a.nn@example.test", "team@example.test"],
                 forwarding=["ann@forward.example"])
    bob = person("bob", "bob@example.test", aliases=["team@example.test"])
    dan = person("dan", "dan@example.test", aliases=["dan.alias@example.test"], disabled=True)
    eve = person("eve", "eve@example.test")
    apply(connection, [ann, bob, dan, eve])
    apply(connection, [ann, bob, dan], force=True)  # eve is removed: her address answers "not found"
    return connection


def test_every_answer_equals_the_single_lookups(connection):
    answers = recipient_lookups(partner_id=connection.partner_id, addresses=list(ASKED))
    assert set(answers) == set(ASKED)
    for asked, kind in ASKED.items():
        assert answers[asked] == recipient_lookup(partner_id=connection.partner_id, address=asked)
        assert answers[asked].kind == kind


def test_answers_name_the_person_and_their_primary_address(connection):
    answers = recipient_lookups(partner_id=connection.partner_id, addresses=list(ASKED))
    assert (answers["ANN@Example.TEST"].address, answers["ANN@Example.TEST"].primary_address) == (
        "ann@example.test", "ann@example.test"
    )
    assert answers["ann@forward.example"].person.external_id == "ann"
    assert answers["ann@forward.example"].primary_address == "ann@example.test"
    assert answers["dan.alias@example.test"].primary_address == "dan@example.test"
    assert [p.external_id for p in answers["team@example.test"].claimants] == ["ann", "bob"]
    assert answers["not an address"].address == "not an address"


def test_an_address_asked_twice_is_answered_once(connection):
    answers = recipient_lookups(partner_id=connection.partner_id, addresses=iter(["bob@example.test"] * 3))
    assert list(answers) == ["bob@example.test"]
    assert answers["bob@example.test"].kind == LookupKind.PRIMARY


def test_nothing_asked_asks_the_database_nothing(connection):
    with CaptureQueriesContext(db_connection) as queries:
        invalid = recipient_lookups(partner_id=connection.partner_id, addresses=["not an address"])
        assert recipient_lookups(partner_id=connection.partner_id, addresses=[]) == {}
    assert len(queries) == 0
    assert invalid["not an address"].kind == LookupKind.INVALID


def _aliases_of_many(partner, count):
    """`count` people, each asked about by an alias (the case that needs the second query)."""
    for n in range(count):
        someone = DirectoryUserFactory(partner=partner)
        DirectoryAddressFactory(directory_user=someone, display_address=f"p{n}@many.example")
        DirectoryAddressFactory(directory_user=someone, display_address=f"a{n}@many.example", kind=AddressKind.ALIAS)
    return [f"A{n}@many.example" for n in range(count)]


def _queries(partner_id, addresses):
    with CaptureQueriesContext(db_connection) as queries:
        answers = recipient_lookups(partner_id=partner_id, addresses=addresses)
    assert all(a.kind == LookupKind.ALIAS for a in answers.values())
    return len(queries)


def test_the_query_count_does_not_grow_with_the_addresses_asked(connection):
    partner = connection.partner
    addresses = _aliases_of_many(partner, 500)
    few = _queries(partner.pk, addresses[:10])
    many = _queries(partner.pk, addresses)
    assert few == many == 2
