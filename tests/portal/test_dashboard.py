"""The dashboard shows each role the partners it may see, and nothing else."""

import pytest

from tests.accounts.factories import AccountManagerFactory, AdminFactory, UserFactory
from tests.partners.factories import AgreementFactory, PartnerFactory


@pytest.mark.django_db
def test_dashboard_needs_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_partner_staff_see_only_their_own_partner(client):
    mine = PartnerFactory(name="Mine Ltd")
    PartnerFactory(name="Other Ltd")
    client.force_login(UserFactory(partner=mine))
    page = client.get("/").content.decode()
    assert "Mine Ltd" in page
    assert "Other Ltd" not in page


@pytest.mark.django_db
def test_account_managers_see_only_the_partners_they_manage(client):
    manager = AccountManagerFactory()
    PartnerFactory(name="Managed Ltd", account_manager=manager)
    PartnerFactory(name="Someone Else's Ltd")
    client.force_login(manager)
    page = client.get("/").content.decode()
    assert "Managed Ltd" in page
    assert "Someone Else" not in page


@pytest.mark.django_db
def test_dashboard_says_when_the_agreement_is_not_signed(client):
    unsigned = PartnerFactory(name="Unsigned Ltd")
    signed = PartnerFactory(name="Signed Ltd")
    AgreementFactory(partner=signed, version="2026.1")
    client.force_login(AdminFactory())
    page = client.get("/").content.decode()
    assert "v2026.1 signed" in page
    assert "not signed: portal access cannot start" in page
    assert unsigned.name in page


@pytest.mark.django_db
def test_dashboard_query_count_does_not_grow_with_partners(client, django_assert_max_num_queries):
    admin = AdminFactory()
    for _ in range(15):
        partner = PartnerFactory()
        AgreementFactory(partner=partner)
        UserFactory.create_batch(2, partner=partner)
    client.force_login(admin)
    with django_assert_max_num_queries(4):
        response = client.get("/")
    assert response.status_code == 200
