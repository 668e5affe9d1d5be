"""The Django admin of the portal's apps: every page loads, synced data is read-only, secrets stay write-only."""

import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiTokenScope
from accounts.services.api_tokens import api_token_create
from core.audit import audit_record
from core.mail import mail_send_on_commit
from core.models import AuditEvent, MailState, OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind, SyncProblem, SyncStatus
from partners.admin import AccountSettingsForm
from partners.models import AccountDomain, AccountSettings, AuthMethod, Partner, PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, UserFactory
from tests.conftest import login_with_second_factor
from tests.directory_sync.factories import DirectoryAddressFactory, DirectoryConnectionFactory, SyncRunFactory
from tests.onboarding.factories import InviteFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, AgreementVersionFactory, PartnerFactory

pytestmark = pytest.mark.django_db

PORTAL_APPS = ("core", "partners", "directory_sync", "accounts", "onboarding", "portal")
PORTAL_MODELS = sorted(
    model._meta.label for model in admin.site._registry if model._meta.app_label in PORTAL_APPS
)
READ_ONLY_MODELS = [
    "core.AuditEvent",
    "core.OutboundMail",
    "directory_sync.SyncRun",
    "directory_sync.SyncProblem",
    "directory_sync.DirectoryUser",
    "directory_sync.DirectoryAddress",
]
# Made elsewhere, never added in the admin: an API token by its own person (shown to them once).
MADE_ELSEWHERE = ["accounts.ApiToken"]


def _url(label: str, view: str, *args) -> str:
    model = apps.get_model(label)
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_user():
    return AdminFactory()


@pytest.fixture
def admin_client(client, admin_user):
    login_with_second_factor(client, admin_user)
    return client


def _seed_partner(actor, **partner_fields) -> Partner:
    """One row of every model the admin shows for a new partner, so that pages render real rows."""
    partner = PartnerFactory(**partner_fields)
    AccountDomain.objects.create(partner=partner, domain=f"{partner.slug}.example")
    AgreementFactory(partner=partner)
    AgreementVersionFactory()
    item = RequestItemFactory(request__partner=partner)
    InviteFactory(partner=partner, item=item)
    address = DirectoryAddressFactory(directory_user__partner=partner)
    connection = DirectoryConnectionFactory(partner=partner)
    run = SyncRunFactory(connection=connection)
    SyncProblem.objects.create(run=run, kind="skipped", dn="cn=broken", reason="no stable id")
    DirectoryAddressFactory(
        directory_user__partner=partner, display_address=f"shared@{partner.slug}.example", kind="alias",
        in_conflict=True,
    )
    DirectoryAddressFactory(
        directory_user=address.directory_user, display_address=f"shared@{partner.slug}.example", kind="alias",
        in_conflict=True,
    )
    audit_record(actor=actor, action="test.seeded", target=partner, partner=partner)
    api_token_create(user=actor, name=f"{partner.slug} sync", scope=ApiTokenScope.READ, days=30, actor=actor)
    mail_send_on_commit(to=f"requester@{partner.slug}.example", subject="Your list", template="request_item_decided",
                        context={"decision": "approved"}, partner=partner)
    return partner


@pytest.fixture
def world(admin_user):
    return _seed_partner(admin_user, name="Acme Mail", slug="acme")


def test_the_portal_apps_register_their_models():
    assert set(READ_ONLY_MODELS) < set(PORTAL_MODELS)
    assert {"accounts.User", "partners.Partner", "directory_sync.DirectoryConnection"} < set(PORTAL_MODELS)


@pytest.mark.parametrize("label", PORTAL_MODELS)
def test_changelist_loads(admin_client, world, label):
    response = admin_client.get(_url(label, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("label", PORTAL_MODELS)
def test_change_page_of_a_row_loads(admin_client, world, label):
    obj = apps.get_model(label).objects.order_by("pk").first()

    response = admin_client.get(_url(label, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("label", [label for label in PORTAL_MODELS
                                   if label not in READ_ONLY_MODELS and label not in MADE_ELSEWHERE])
def test_add_page_loads(admin_client, world, label):
    response = admin_client.get(_url(label, "add"))

    assert response.status_code == 200


@pytest.mark.parametrize("label", READ_ONLY_MODELS)
def test_synced_and_audit_models_are_read_only(admin_user, label):
    model_admin = admin.site._registry[apps.get_model(label)]
    request = RequestFactory().get("/admin/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


@pytest.mark.parametrize("label", READ_ONLY_MODELS + MADE_ELSEWHERE)
def test_add_page_of_read_only_model_is_forbidden(admin_client, label):
    response = admin_client.get(_url(label, "add"))

    assert response.status_code == 403


def test_read_only_change_page_refuses_a_post(admin_client, world):
    event = AuditEvent.objects.get(action="test.seeded")

    response = admin_client.post(_url("core.AuditEvent", "change", event.pk), {"action": "test.rewritten"})

    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "test.seeded"


def test_partners_changelist_makes_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    PartnerFactory.create_batch(25, account_manager=AccountManagerFactory())
    PartnerFactory.create_batch(5)

    with django_assert_max_num_queries(8):
        response = admin_client.get(_url("partners.Partner", "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 30


@pytest.mark.parametrize("label", PORTAL_MODELS)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, admin_user, django_assert_max_num_queries, label):
    url = _url(label, "changelist")
    _seed_partner(admin_user)
    with django_assert_max_num_queries(10) as one_partner:
        admin_client.get(url)

    for _ in range(4):
        _seed_partner(admin_user)
    with django_assert_max_num_queries(10) as five_partners:
        response = admin_client.get(url)

    assert response.status_code == 200
    assert len(five_partners) == len(one_partner)


# --- Directory connection: the bind password is write-only ---------------------------------------------------------


def _connection_post_data(connection: DirectoryConnection, **changes) -> dict:
    data = {
        "partner": connection.partner_id,
        "kind": connection.kind,
        "preset": connection.preset,
        "is_enabled": "on",
        "uri": connection.uri,
        "start_tls": "on",
        "ca_certificate": "",
        "bind_dn": connection.bind_dn,
        "bind_password": "",
        "base_dn": connection.base_dn,
        "user_filter": "",
        "page_size": connection.page_size,
        "attribute_overrides": "{}",
        "incremental_every_minutes": connection.incremental_every_minutes,
        "full_every_hours": connection.full_every_hours,
        "removal_brake_percent": connection.removal_brake_percent,
    }
    return {**data, **changes}


def _assert_saved(response) -> None:
    errors = response.context and response.context.get("errors")
    assert response.status_code == 302, f"the admin did not save: {errors}"


@pytest.fixture
def ldap_connection():
    return DirectoryConnectionFactory(bind_password="Very-Secret-Bind-Password")


def test_connection_change_page_never_shows_the_bind_password(admin_client, ldap_connection):
    response = admin_client.get(_url("directory_sync.DirectoryConnection", "change", ldap_connection.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Very-Secret-Bind-Password" not in html
    assert 'name="bind_password"' in html
    assert "A secret is stored" in html


def test_connection_saved_with_empty_password_box_keeps_the_stored_password(admin_client, ldap_connection):
    url = _url("directory_sync.DirectoryConnection", "change", ldap_connection.pk)

    response = admin_client.post(url, _connection_post_data(ldap_connection, bind_dn="cn=renamed,dc=example,dc=test"))

    _assert_saved(response)
    stored = DirectoryConnection.objects.get(pk=ldap_connection.pk)
    assert stored.bind_dn == "cn=renamed,dc=example,dc=test"
    assert stored.bind_password == "Very-Secret-Bind-Password"


def test_connection_saved_with_new_password_replaces_it(admin_client, ldap_connection):
    url = _url("directory_sync.DirectoryConnection", "change", ldap_connection.pk)

    response = admin_client.post(url, _connection_post_data(ldap_connection, bind_password="Brand-New-Password"))

    _assert_saved(response)
    assert DirectoryConnection.objects.get(pk=ldap_connection.pk).bind_password == "Brand-New-Password"


def test_connection_added_through_the_admin_stores_the_password_encrypted(admin_client):
    partner = PartnerFactory()
    template = DirectoryConnection(partner=partner, uri="ldaps://dc1.acme.example", base_dn="dc=acme,dc=example")

    response = admin_client.post(
        _url("directory_sync.DirectoryConnection", "add"), _connection_post_data(template, bind_password="First-Pass")
    )

    _assert_saved(response)
    connection = DirectoryConnection.objects.get(partner=partner)
    assert connection.bind_password == "First-Pass"
    assert not DirectoryConnection.objects.filter(bind_password__contains="First-Pass").exists()


def test_csv_connection_is_saved_without_a_password(admin_client):
    partner = PartnerFactory()
    template = DirectoryConnection(partner=partner, kind=SourceKind.CSV, uri="", base_dn="")

    response = admin_client.post(_url("directory_sync.DirectoryConnection", "add"), _connection_post_data(template))

    _assert_saved(response)
    assert DirectoryConnection.objects.get(partner=partner).bind_password == ""


# --- Partner: the SSO client secret is write-only, and saves are audited -------------------------------------------


@pytest.fixture
def sso_partner():
    partner = PartnerFactory(name="Acme Mail", slug="acme")
    AccountSettings.objects.filter(pk=partner.pk).update(
        auth_method=AuthMethod.SSO, sso_issuer="https://idp.acme.example/", sso_client_id="portal"
    )
    settings = AccountSettings.objects.get(pk=partner.pk)
    settings.sso_client_secret = "Very-Secret-Client-Secret"
    settings.save()
    return partner


def _partner_post_data(partner: Partner, *, settings: AccountSettings | None, **settings_changes) -> dict:
    data = {
        "name": partner.name,
        "slug": partner.slug,
        "kind": partner.kind,
        "language": partner.language,
        "account_manager": partner.account_manager_id or "",
        "is_active": "on",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
        "agreements-TOTAL_FORMS": "0",
        "agreements-INITIAL_FORMS": "0",
        "agreements-MIN_NUM_FORMS": "0",
        "agreements-MAX_NUM_FORMS": "1000",
        "account_settings-TOTAL_FORMS": "1",
        "account_settings-INITIAL_FORMS": "1" if settings is not None else "0",
        "account_settings-MIN_NUM_FORMS": "0",
        "account_settings-MAX_NUM_FORMS": "1",
    }
    settings = settings or AccountSettings()
    inline = {
        "partner": partner.pk or "",
        "auth_method": settings.auth_method,
        "self_service_reset": "on" if settings.self_service_reset else None,
        "reset_contact": settings.reset_contact,
        "two_factor_policy": settings.two_factor_policy,
        "two_factor_grace_days": settings.two_factor_grace_days,
        "sso_protocol": settings.sso_protocol,
        "saml_want_assertions_signed": "on" if settings.saml_want_assertions_signed else None,
        "sso_issuer": settings.sso_issuer,
        "sso_client_id": settings.sso_client_id,
        "sso_client_secret": "",
        "sso_scopes": settings.sso_scopes,
        "sso_enforced": "on" if settings.sso_enforced else None,
    }
    inline.update(settings_changes)
    data.update({f"account_settings-0-{name}": value for name, value in inline.items() if value is not None})
    return data


def test_partner_change_page_never_shows_the_sso_client_secret(admin_client, sso_partner):
    response = admin_client.get(_url("partners.Partner", "change", sso_partner.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Very-Secret-Client-Secret" not in html
    assert 'name="account_settings-0-sso_client_secret"' in html


def test_partner_saved_with_empty_secret_box_keeps_the_sso_client_secret(admin_client, sso_partner):
    settings = AccountSettings.objects.get(pk=sso_partner.pk)
    data = _partner_post_data(sso_partner, settings=settings, sso_scopes="openid email")

    response = admin_client.post(_url("partners.Partner", "change", sso_partner.pk), data)

    _assert_saved(response)
    settings.refresh_from_db()
    assert settings.sso_scopes == "openid email"
    assert settings.sso_client_secret == "Very-Secret-Client-Secret"


def test_partner_saved_with_new_secret_replaces_the_sso_client_secret(admin_client, sso_partner):
    settings = AccountSettings.objects.get(pk=sso_partner.pk)
    data = _partner_post_data(sso_partner, settings=settings, sso_client_secret="Brand-New-Secret")

    response = admin_client.post(_url("partners.Partner", "change", sso_partner.pk), data)

    _assert_saved(response)
    settings.refresh_from_db()
    assert settings.sso_client_secret == "Brand-New-Secret"


def test_account_settings_form_keeps_stored_secret_when_left_empty(sso_partner):
    settings = AccountSettings.objects.get(pk=sso_partner.pk)
    data = {
        "partner": sso_partner.pk,
        "auth_method": AuthMethod.SSO,
        "self_service_reset": "on",
        "two_factor_policy": settings.two_factor_policy,
        "two_factor_grace_days": settings.two_factor_grace_days,
        "sso_protocol": settings.sso_protocol,
        "saml_want_assertions_signed": "on" if settings.saml_want_assertions_signed else None,
        "sso_issuer": settings.sso_issuer,
        "sso_client_id": settings.sso_client_id,
        "sso_client_secret": "",
        "sso_scopes": settings.sso_scopes,
    }
    form = AccountSettingsForm(data, instance=settings)

    assert form.is_valid(), form.errors
    form.save()
    assert AccountSettings.objects.get(pk=sso_partner.pk).sso_client_secret == "Very-Secret-Client-Secret"


def test_account_settings_form_never_renders_the_secret(sso_partner):
    html = AccountSettingsForm(instance=AccountSettings.objects.get(pk=sso_partner.pk)).as_p()

    assert "Very-Secret-Client-Secret" not in html
    assert "A secret is stored" in html


def test_partner_change_through_the_admin_is_audited(admin_client, admin_user, sso_partner):
    data = _partner_post_data(sso_partner, settings=AccountSettings.objects.get(pk=sso_partner.pk))
    data["name"] = "Acme Mail Ltd"

    response = admin_client.post(_url("partners.Partner", "change", sso_partner.pk), data)

    _assert_saved(response)
    event = AuditEvent.objects.get(action="admin.change")
    assert event.actor_id == admin_user.pk
    assert event.actor_label == admin_user.email
    assert event.partner_id == sso_partner.pk
    assert (event.target_type, event.target_id) == ("partners.partner", str(sso_partner.pk))
    assert event.target_label == "Acme Mail Ltd"
    assert event.data == {"change": [{"changed": {"fields": ["Name"]}}]}
    assert event.ip_address == "127.0.0.1"


def test_inline_secret_change_is_audited_without_the_secret(admin_client, sso_partner):
    data = _partner_post_data(
        sso_partner, settings=AccountSettings.objects.get(pk=sso_partner.pk), sso_client_secret="Replaced-Secret"
    )

    _assert_saved(admin_client.post(_url("partners.Partner", "change", sso_partner.pk), data))

    event = AuditEvent.objects.get(action="admin.change")
    changed = event.data["change"][0]["changed"]
    assert changed["fields"] == ["Sso client secret"]
    assert "Replaced-Secret" not in str(event.data)


def test_partner_saved_with_clear_box_removes_the_sso_client_secret(admin_client, sso_partner):
    data = _partner_post_data(
        sso_partner, settings=AccountSettings.objects.get(pk=sso_partner.pk), sso_client_secret_clear="on"
    )

    _assert_saved(admin_client.post(_url("partners.Partner", "change", sso_partner.pk), data))

    assert AccountSettings.objects.get(pk=sso_partner.pk).sso_client_secret == ""


def test_secret_cannot_be_replaced_and_removed_at_once(sso_partner):
    settings = AccountSettings.objects.get(pk=sso_partner.pk)
    post = _partner_post_data(sso_partner, settings=settings, sso_client_secret="New", sso_client_secret_clear="on")
    prefix = "account_settings-0-"
    form = AccountSettingsForm(
        instance=settings, data={k.removeprefix(prefix): v for k, v in post.items() if k.startswith(prefix)}
    )

    assert not form.is_valid()
    assert "Either type a new secret or remove the stored one" in str(form.errors)


def test_password_change_through_the_admin_is_audited(admin_client, admin_user):
    user = UserFactory()
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "A-new-long-passphrase-42", "password2": "A-new-long-passphrase-42", "usable_password": "true"},
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.change", target_type="accounts.user")
    assert event.actor_id == admin_user.pk
    assert event.data == {"change": [{"changed": {"fields": ["password"]}}]}


def test_partner_added_through_the_admin_is_audited(admin_client, admin_user):
    manager = AccountManagerFactory()
    partner = Partner(name="Newco", slug="newco", kind=PartnerKind.RESELLER, account_manager=manager)
    data = _partner_post_data(partner, settings=None, self_service_reset=None)

    response = admin_client.post(_url("partners.Partner", "add"), data)

    _assert_saved(response)
    created = Partner.objects.get(slug="newco")
    assert AccountSettings.objects.get(pk=created.pk).self_service_reset is False
    event = AuditEvent.objects.get(action="admin.add")
    assert event.actor_id == admin_user.pk
    assert event.partner_id == created.pk
    assert event.target_id == str(created.pk)


def test_user_change_through_the_admin_is_audited(admin_client, admin_user):
    user = UserFactory(full_name="Jane Doe")
    data = {
        "display_email": user.display_email,
        "full_name": "Jane Q. Doe",
        "role": user.role,
        "partner": user.partner_id,
        "is_active": "on",
    }

    response = admin_client.post(_url("accounts.User", "change", user.pk), data)

    _assert_saved(response)
    user.refresh_from_db()
    assert user.full_name == "Jane Q. Doe"
    event = AuditEvent.objects.get(action="admin.change", target_type="accounts.user")
    assert event.actor_id == admin_user.pk
    assert event.partner_id == user.partner_id


def test_sync_run_changelist_shows_runs_without_allowing_changes(admin_client, world):
    run = world.directory_connection.runs.get()
    run.status = SyncStatus.SUCCEEDED
    run.finished_at = timezone.now() + datetime.timedelta(minutes=1)
    run.save()

    response = admin_client.get(_url("directory_sync.SyncRun", "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert not response.context["has_add_permission"]


def test_the_send_again_action_sends_a_failed_notification_from_the_first_try(admin_client, world):
    mail = OutboundMail.objects.get()
    OutboundMail.objects.filter(pk=mail.pk).update(state=MailState.FAILED, attempts=6, last_error="451 later")

    response = admin_client.post(
        _url("core.OutboundMail", "changelist"), {"action": "send_again", "_selected_action": [mail.pk]}
    )

    assert response.status_code == 302
    mail.refresh_from_db()
    assert (mail.state, mail.attempts) == (MailState.PENDING, 0)  # queued after commit, sent by a worker
    assert AuditEvent.objects.filter(action="mail.resent", target_id=str(mail.pk)).exists()


def test_the_front_page_counts_the_work_waiting_and_failed(admin_client, world):
    OutboundMail.objects.update(state=MailState.FAILED, attempts=6)

    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["operations"]["mail"]["failed"] == 1
    assert 'id="operations"' in response.content.decode()
