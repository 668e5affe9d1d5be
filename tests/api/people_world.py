"""Two partners and everyone who may (or may not) see them: the roles the API's partners, people, directory and
audit resources are tested as."""

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from partners.models import Partner
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.partners.factories import AgreementFactory, PartnerFactory


@dataclass
class World:
    partner: Partner
    manager: User  # the partner's account manager
    partner_admin: User
    second_admin: User  # so that the first is not the last partner admin
    staff: User
    other: Partner  # another partner, of another account manager
    other_manager: User
    other_admin: User  # a partner admin of the other partner
    admin: User


@pytest.fixture
def world() -> World:
    manager, other_manager = AccountManagerFactory(), AccountManagerFactory()
    partner = PartnerFactory(name="Acme Networks", slug="acme", account_manager=manager)
    other = PartnerFactory(name="Globex", slug="globex", account_manager=other_manager, kind="reseller")
    AgreementFactory(partner=partner, version="2026.1")
    return World(
        partner=partner, manager=manager,
        partner_admin=PartnerAdminFactory(partner=partner, full_name="Pat Adams", display_email="Pat@Acme.example"),
        second_admin=PartnerAdminFactory(partner=partner, full_name="Quinn Baker",
                                         display_email="quinn@acme.example"),
        staff=UserFactory(partner=partner, full_name="Sam Carter", display_email="sam@acme.example"),
        other=other, other_manager=other_manager,
        other_admin=PartnerAdminFactory(partner=other, full_name="Olga Other", display_email="olga@globex.example"),
        admin=AdminFactory(),
    )


def staff_api(api_as, world: World):
    """The API as the partner's staff member: partner staff make no tokens, so this one was made while they were
    a partner admin, before they were made staff (a token outlives a change of role)."""
    then_admin = User.objects.get(pk=world.staff.pk)
    then_admin.role = Role.PARTNER_ADMIN  # as they were when they made it
    return api_as(then_admin)


def query_count(path: str, *, token: str) -> int:
    """How many queries one answer of /api/v1`path` costs (through Django's test client, in this thread, where
    they can be counted)."""
    client = Client()
    client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})  # the token's last use is noted
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    return len(captured)
