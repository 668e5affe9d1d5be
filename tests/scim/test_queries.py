"""A page of Users costs the same queries whatever its size (no query per person)."""

import pytest
from django.db import connection as database
from django.test import Client
from django.test.utils import CaptureQueriesContext

from directory_sync.models import AddressKind, DirectoryAddress, DirectoryUser, ScimIdentity
from tests.scim.conftest import scim_account

pytestmark = pytest.mark.django_db


def provisioned(partner, count: int, start: int = 0) -> None:
    people = DirectoryUser.objects.bulk_create(
        DirectoryUser(partner=partner, external_id=f"q{n}", display_name=f"Q {n}") for n in range(start, start + count))
    DirectoryAddress.objects.bulk_create(
        a for n, p in zip(range(start, start + count), people, strict=True) for a in (
            DirectoryAddress(partner=partner, directory_user=p, kind=AddressKind.PRIMARY, address=f"q{n}@q.example",
                             display_address=f"q{n}@q.example"),
            DirectoryAddress(partner=partner, directory_user=p, kind=AddressKind.ALIAS, address=f"a{n}@q.example",
                             display_address=f"a{n}@q.example")))
    ScimIdentity.objects.bulk_create(ScimIdentity(partner=partner, directory_user=p, user_name=f"q{n}@q.example",
                                                  display_user_name=f"q{n}@q.example")
                                     for n, p in zip(range(start, start + count), people, strict=True))


def queries_of_a_page(client: Client, token: str) -> int:
    with CaptureQueriesContext(database) as captured:
        answer = client.get("/scim/v2/Users", {"count": 100}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200
    return len(captured.captured_queries)


def test_a_page_of_users_costs_the_same_queries_for_3_and_60_people():
    connection, token = scim_account()
    client = Client()
    provisioned(connection.partner, 3)
    small = queries_of_a_page(client, token)
    provisioned(connection.partner, 57, start=3)

    assert queries_of_a_page(client, token) == small
