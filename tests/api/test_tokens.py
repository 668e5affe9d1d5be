"""API tokens: made on the portal's page (shown once, kept as a hash), acting as their person within their scope
until they expire or are revoked or the person loses access; the API takes nothing else, not even a session."""

import datetime
import re

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, ApiTokenScope, Role, User
from accounts.models.tokens import token_hash
from accounts.services.access import user_deactivate, user_reactivate, user_set_role
from accounts.services.api_tokens import api_token_revoke
from accounts.services.passwords import password_changed
from accounts.services.two_factor import two_factor_reset
from core.api.throttling import TokenRateThrottle
from core.models import AuditEvent
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.api.conftest import token_for
from tests.conftest import login_with_second_factor

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_speaks_for_its_person(api_as):
    admin = PartnerAdminFactory(full_name="Pat Adams")
    body = api_as(admin, scope=ApiTokenScope.READ).get("/me/").json()
    assert (body["email"], body["role"], body["partner"]) == (admin.display_email, "partner_admin",
                                                              admin.partner.slug)
    assert body["token"]["scope"] == "read" and body["token"]["name"] == "tests"


def test_without_a_token_or_with_a_wrong_one_the_answer_is_401_with_the_scheme(api_as, live_server):
    response = api_as(None).get("/me/")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    for header in ("Bearer pp_00000000_nope", "Bearer", "Bearer a b", "Token abc"):
        answer = requests.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": header}, timeout=30)
        assert answer.status_code == 401, header
        assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_a_session_cookie_does_not_authenticate_the_api(live_server):
    client = Client()
    login_with_second_factor(client, AdminFactory())
    answer = requests.get(f"{live_server.url}/api/v1/me/", cookies={"sessionid": client.cookies["sessionid"].value},
                          timeout=30)
    assert answer.status_code == 401


def test_an_expired_a_revoked_token_and_one_of_a_person_without_access_stop_working(api_as):
    manager = AccountManagerFactory()
    expired = api_as(manager)
    ApiToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert expired.get("/me/").status_code == 401

    revoked = api_as(manager)
    api_token_revoke(token=ApiToken.objects.get(revoked_at=None, expires_at__gt=timezone.now()), actor=manager)
    assert revoked.get("/me/").status_code == 401

    admin = PartnerAdminFactory()
    PartnerAdminFactory(partner=admin.partner)  # not the last partner admin: may be deactivated
    leaver = api_as(admin)
    assert leaver.get("/me/").status_code == 200
    user_deactivate(user=admin, actor=AdminFactory())
    assert leaver.get("/me/").status_code == 401


def test_a_read_token_may_not_change_anything(api_as):
    manager = AccountManagerFactory()
    assert api_as(manager, scope=ApiTokenScope.READ).post("/me/", json={}).status_code == 403
    assert api_as(manager, scope=ApiTokenScope.WRITE).post("/me/", json={}).status_code == 405


def test_a_token_is_kept_only_as_a_hash_and_notes_its_last_use(api_as):
    manager = AccountManagerFactory()
    raw = token_for(manager)
    token = ApiToken.objects.get(prefix=raw.split("_")[1])
    assert token.secret_hash == token_hash(raw) and raw not in str(ApiToken.objects.filter(pk=token.pk).values())
    assert token.last_used_at is None
    requests.get(f"{api_as(None).url}/api/v1/me/", headers={"Authorization": f"Bearer {raw}"}, timeout=30)
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"


def test_the_token_page_makes_a_token_shown_once_lists_and_revokes_it(client):
    manager = AccountManagerFactory()
    login_with_second_factor(client, manager)
    page = client.get("/accounts/api-tokens/").content.decode()
    assert '<label for="id_name">Name</label>' in page

    response = client.post("/accounts/api-tokens/", {"name": "  nightly   export ", "scope": "write", "days": "90"})
    page = response.content.decode()
    raw = re.search(r'<code id="new-token-value">(pp_[^<]+)</code>', page).group(1)
    token = ApiToken.objects.get(user=manager)
    assert token.name == "nightly export" and token.scope == "write" and token.matches(raw)
    assert raw not in client.get("/accounts/api-tokens/").content.decode()  # shown once
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.actor == manager and event.data["prefix"] == token.prefix and raw not in str(event.data)

    response = client.post(f"/accounts/api-tokens/{token.pk}/revoke/", follow=True)
    assert "is revoked: it no longer works." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoked", target_id=str(token.pk)).exists()


def test_partner_staff_make_no_tokens_and_nobody_revokes_another_s(client):
    login_with_second_factor(client, UserFactory())
    assert client.get("/accounts/api-tokens/").status_code == 404
    other = ApiToken.objects.get(prefix=token_for(AccountManagerFactory()).split("_")[1])
    client.logout()
    login_with_second_factor(client, AccountManagerFactory())
    assert client.post(f"/accounts/api-tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


@pytest.mark.parametrize("days", ["0", "400", "x"])
def test_a_lifetime_outside_the_choices_is_refused(client, days):
    login_with_second_factor(client, AccountManagerFactory())
    response = client.post("/accounts/api-tokens/", {"name": "x", "scope": "read", "days": days})
    assert response.status_code == 200 and not ApiToken.objects.exists()


def test_the_schema_and_the_docs_are_served_from_the_portal_itself(live_server, openapi):
    docs = requests.get(f"{live_server.url}/api/v1/docs/", timeout=30)
    assert docs.status_code == 200
    assert '<h3 id="me_retrieve-title"><span class="api-method">GET</span> <code>/api/v1/me/</code></h3>' in docs.text
    assert not re.search(r'(src|href)="https?://', docs.text)  # nothing from elsewhere
    schema = requests.get(f"{live_server.url}/api/v1/schema/", params={"format": "json"}, timeout=30).json()
    assert schema["openapi"].startswith("3.") and "/api/v1/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]


def test_an_admin_sees_every_token_and_revokes_one_but_makes_none(client):
    admin_client = client
    login_with_second_factor(admin_client, AdminFactory())
    token = ApiToken.objects.get(prefix=token_for(AccountManagerFactory()).split("_")[1])
    page = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert token.prefix in page and "Add API token" not in page
    admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_an_address_the_api_does_not_have_answers_404_as_problem_details(live_server):
    answer = requests.get(f"{live_server.url}/api/v1/no/such/thing/", timeout=30)
    assert answer.status_code == 404 and answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"] == "There is no such address in the API: see /api/v1/docs/."


def test_each_token_has_its_own_rate_limit(api_as, monkeypatch):
    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    manager = AccountManagerFactory()
    busy, other = api_as(manager), api_as(manager)
    assert [busy.get("/me/").status_code for _ in range(3)] == [200, 200, 200]
    refused = busy.get("/me/")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert other.get("/me/").status_code == 200


def test_the_openapi_document_is_valid_and_drawn_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/partners/{slug}/requests/" in (tmp_path / "schema.yml").read_text()


def test_a_person_s_tokens_stop_when_their_access_ends_their_credentials_are_reset_or_they_lose_the_role(api_as):
    admin = PartnerAdminFactory()
    PartnerAdminFactory(partner=admin.partner)  # not the last partner admin
    vendor = AdminFactory()

    for end in (lambda: user_deactivate(user=admin, actor=vendor),
                lambda: password_changed(user=admin, via="changed"),
                lambda: two_factor_reset(user=admin, actor=vendor),
                lambda: user_set_role(user=admin, role=Role.PARTNER_STAFF, actor=vendor)):
        User.objects.filter(pk=admin.pk).update(is_active=True, access_ended="", role=Role.PARTNER_ADMIN)
        admin.refresh_from_db()
        client = api_as(admin)
        assert client.get("/me/").status_code == 200
        end()
        admin.refresh_from_db()
        if not admin.is_active:
            user_reactivate(user=admin, actor=vendor)  # access back: the token does not come back with it
        assert client.get("/me/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked_all").count() == 4


def test_a_body_larger_than_the_api_takes_is_refused_before_it_is_read(api_as, settings):
    settings.API_MAX_BODY_BYTES = 1024
    admin = PartnerAdminFactory()
    answer = api_as(admin).post(f"/partners/{admin.partner.slug}/requests/",
                                files={"file": ("people.csv", b"name,email\n" + b"x" * 4096, "text/csv")})
    assert answer.status_code == 413 and "1 KiB" in answer.json()["detail"]
