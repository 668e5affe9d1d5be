"""Signing in at /admin/ goes on to the admin, also when the sign-in stops for two-factor enrolment first."""

import re

import pytest

from accounts.models import TOTPDevice
from partners.models import TwoFactorPolicy
from tests.accounts.factories import PASSWORD, AdminFactory, UserFactory
from tests.conftest import totp_code
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def sign_in_at(client, path: str, email: str):
    """Open `path` signed out and follow the way to the sign-in pages; the answer of the password step."""
    to_login = client.get(path)["Location"]
    while not to_login.startswith("/accounts/login/"):
        to_login = client.get(to_login)["Location"]
    client.get(to_login)  # the sign-in page keeps ?next=
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": PASSWORD})


def enrol(client):
    """Confirm the authenticator offered on the set-up page; the backup codes page that follows."""
    client.get("/accounts/two-factor/setup/")
    device = TOTPDevice.objects.get(confirmed=False)
    done = client.post("/accounts/two-factor/setup/", {"token": totp_code(device.bin_key)})
    assert done["Location"] == "/accounts/two-factor/backup-codes/"
    return client.get(done["Location"]).content.decode()


def done_link(page: str) -> str:
    return re.search(r'<a class="button" href="([^"]+)">Done</a>', page).group(1)


def test_an_admin_who_enrols_at_sign_in_goes_on_to_the_admin(client):
    admin = AdminFactory()
    assert sign_in_at(client, "/admin/partners/partner/", admin.email)["Location"] == "/accounts/two-factor/setup/"
    page = enrol(client)
    assert done_link(page) == "/admin/partners/partner/"
    assert client.get(done_link(page)).status_code == 200


def test_the_admin_s_address_is_used_once(client):
    admin = AdminFactory()
    sign_in_at(client, "/admin/", admin.email)
    enrol(client)
    assert "two_factor_then" not in client.session


def test_enrolling_without_a_next_address_ends_on_the_home_page(client):
    admin = AdminFactory()
    client.post("/accounts/login/", {"email": admin.email})
    client.post("/accounts/login/password/", {"password": PASSWORD})
    assert done_link(enrol(client)) == "/"


def test_later_in_the_grace_period_goes_on_to_the_next_address(client):
    partner = PartnerFactory()
    settings = partner.account_settings
    settings.two_factor_policy, settings.two_factor_grace_days = TwoFactorPolicy.REQUIRED, 7
    settings.save()
    user = UserFactory(partner=partner)
    client.get("/accounts/login/?next=/accounts/notifications/")
    client.post("/accounts/login/", {"email": user.email})
    assert client.post("/accounts/login/password/", {"password": PASSWORD})["Location"] == "/accounts/two-factor/setup/"
    assert client.post("/accounts/two-factor/later/")["Location"] == "/accounts/notifications/"


def test_a_next_address_on_another_site_is_not_kept(client):
    admin = AdminFactory()
    client.get("/accounts/login/?next=https://elsewhere.example/")
    client.post("/accounts/login/", {"email": admin.email})
    client.post("/accounts/login/password/", {"password": PASSWORD})
    assert done_link(enrol(client)) == "/"
