"""The SCIM token in the admin: made by a button (or the action), shown once, stored as its SHA-256 only, the previous
one stopping at once; the connection's page shows the base URL the identity provider needs."""

import hashlib
import re

import pytest
from django.conf import settings
from django.test import Client

from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.scim import TOKEN_CREATED, scim_connection_for_token
from tests.accounts.factories import AdminFactory
from tests.conftest import login_with_second_factor
from tests.partners.factories import PartnerFactory
from tests.scim.conftest import scim_account

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'id="scim-token" type="text" readonly size="70" value="(scim_[^"]+)"')


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    login_with_second_factor(client, AdminFactory())
    return client


def change_url(connection) -> str:
    return f"/admin/directory_sync/directoryconnection/{connection.pk}/change/"


def test_the_new_token_button_shows_a_token_once_and_keeps_only_its_hash(admin_client):
    connection, old = scim_account()

    page = admin_client.post(f"/admin/directory_sync/directoryconnection/{connection.pk}/scim-token/")

    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    [token] = TOKEN.findall(page.content.decode())
    connection.refresh_from_db()
    assert connection.scim_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert scim_connection_for_token(token=token) == connection
    assert scim_connection_for_token(token=old) is None
    assert token not in admin_client.get(change_url(connection)).content.decode()
    assert AuditEvent.objects.filter(action=TOKEN_CREATED, target_id=str(connection.pk)).count() == 2


def test_the_connection_page_shows_the_base_url_and_the_button(admin_client):
    connection, _token = scim_account()

    page = admin_client.get(change_url(connection)).content.decode()

    assert f"{settings.PORTAL_URL}/scim/v2" in page
    assert f'formaction="/admin/directory_sync/directoryconnection/{connection.pk}/scim-token/"' in page


def test_the_button_is_post_only(admin_client):
    connection, token = scim_account()

    assert admin_client.get(f"/admin/directory_sync/directoryconnection/{connection.pk}/scim-token/").status_code == 405
    assert scim_connection_for_token(token=token) == connection


def test_the_action_makes_a_token_for_one_scim_connection_only(admin_client):
    connection, _token = scim_account()
    csv = DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)

    refused = admin_client.post("/admin/directory_sync/directoryconnection/", {
        "action": "new_scim_token", "_selected_action": [csv.pk]}, follow=True)
    made = admin_client.post("/admin/directory_sync/directoryconnection/", {
        "action": "new_scim_token", "_selected_action": [connection.pk]})

    assert "Choose exactly one SCIM connection for a new token." in refused.content.decode()
    assert not DirectoryConnection.objects.get(pk=csv.pk).scim_token_hash
    [token] = TOKEN.findall(made.content.decode())
    assert scim_connection_for_token(token=token) == connection


def test_a_disabled_connection_token_authenticates_nothing():
    connection, token = scim_account()
    DirectoryConnection.objects.filter(pk=connection.pk).update(is_enabled=False)

    assert scim_connection_for_token(token=token) is None
