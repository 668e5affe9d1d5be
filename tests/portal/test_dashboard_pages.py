"""The dashboard reads its partners a page at a time: as many queries for 3 partners as for 30, for every role,
with the count and links to the other pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Partner
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def viewer(request, acme, manager):
    return {
        "partner_admin": lambda: PartnerAdminFactory(partner=acme),
        "partner_staff": lambda: UserFactory(partner=acme),
        "account_manager": lambda: manager,
        "admin": lambda: AdminFactory(),
    }[request.param]()


def grow(manager, n: int) -> None:
    """n partners of this account manager, each with people, a list, an item and an invite (Acme's grow too)."""
    for partner in Partner.objects.filter(account_manager=manager):
        for _ in range(partner.members.count(), n):
            UserFactory(partner=partner)
    for _ in range(Partner.objects.filter(account_manager=manager).count(), n):
        partner = PartnerFactory(account_manager=manager)
        AgreementFactory(partner=partner)
        UserFactory(partner=partner)
        RequestItemFactory(request=PortalUserRequestFactory(partner=partner))
        InviteFactory(partner=partner)


def queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/")
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("viewer", ["partner_admin", "partner_staff", "account_manager", "admin"], indirect=True)
def test_the_dashboard_reads_as_many_queries_for_3_partners_as_for_30(client, manager, viewer):
    client.force_login(viewer)
    grow(manager, 3)
    few = queries(client)
    grow(manager, 30)
    assert queries(client) == few


def test_the_dashboard_pages_partners_by_name_with_their_count(client):
    for n in range(55):
        PartnerFactory(name=f"Partner {n:02d}")
    client.force_login(AdminFactory())
    first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()
    past = client.get("/?page=7").content.decode()
    assert '<span class="total">(55)</span>' in first and "Page 1 of 2" in first
    assert "Partner 49" in first and "Partner 50" not in first
    assert "Partner 50" in second and "Partner 54" in second and "Partner 49" not in second
    assert '<a href="/" rel="prev">' in second
    assert "Page 2 of 2" in past and "Partner 54" in past


def test_partner_staff_page_through_nothing_but_their_own_partner(client, acme):
    PartnerFactory(name="Other Ltd")
    client.force_login(UserFactory(partner=acme))
    page = client.get("/?page=2").content.decode()
    assert "Acme MSP" in page and "Other Ltd" not in page
    assert 'class="pagination"' not in page
