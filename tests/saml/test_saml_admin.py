"""The SAML settings of an account in the admin: metadata uploaded or fetched from its URL (checked before
anything is saved), the values to give the identity provider, and the daily refresh of metadata from a URL."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from partners.models import AccountSettings, AuthMethod, SsoProtocol
from partners.services.saml import (
    METADATA_EXPIRED,
    METADATA_HTTPS_ONLY,
    METADATA_NO_IDP,
    METADATA_NOT_PUBLIC,
    METADATA_NOT_XML,
    saml_metadata_refresh_all,
)
from partners.tasks import saml_metadata_refresh_task
from tests.accounts.factories import AdminFactory
from tests.conftest import free_port, login_with_second_factor
from tests.partners.factories import AccountSettingsFactory, PartnerFactory
from tests.saml.saml_flow import PORTAL

pytestmark = pytest.mark.django_db

SP_METADATA_ONLY = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="https://sp.example/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""


@pytest.fixture
def admin(client):
    user = AdminFactory()
    login_with_second_factor(client, user)
    return user


@pytest.fixture
def account(idp):
    partner = PartnerFactory(slug="acme-saml", account_settings=None)
    return AccountSettingsFactory(partner=partner)


def change_url(account) -> str:
    return reverse("admin:partners_partner_change", args=[account.partner_id])


def partner_post(account, **settings) -> dict:
    """The partner's change form as the admin posts it, with these account settings."""
    partner = account.partner
    data = {"name": partner.name, "slug": partner.slug, "kind": partner.kind, "language": partner.language,
            "account_manager": partner.account_manager_id or "", "is_active": "on"}
    for prefix, initial, maximum in (("domains", 0, 1000), ("agreements", 0, 1000), ("account_settings", 1, 1)):
        data |= {f"{prefix}-TOTAL_FORMS": str(initial), f"{prefix}-INITIAL_FORMS": str(initial),
                 f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": str(maximum)}
    fields = {"partner": partner.pk, "auth_method": AuthMethod.SSO, "sso_protocol": SsoProtocol.SAML,
              "two_factor_policy": "optional", "two_factor_grace_days": "7", "sso_scopes": "openid email profile",
              "saml_want_assertions_signed": "on", **settings}
    return data | {f"account_settings-0-{name}": value for name, value in fields.items()}


def test_uploaded_metadata_is_checked_and_kept(client, admin, idp, account):
    upload = SimpleUploadedFile("idp.xml", idp.metadata_xml().encode(), content_type="text/xml")
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_file=upload))
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert (account.auth_method, account.sso_protocol) == (AuthMethod.SSO, SsoProtocol.SAML)
    assert f'entityID="{idp.entity_id}"' in account.saml_idp_metadata_xml
    assert AuditEvent.objects.filter(action="admin.change", actor=admin).exists()


def test_metadata_is_fetched_from_its_url_when_the_admin_saves(client, admin, idp, account, settings):
    settings.SAML_METADATA_ALLOW_HTTP = True  # the suite's identity provider is on loopback, without TLS
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_url=idp.metadata_url))
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert account.saml_idp_metadata_url == idp.metadata_url
    assert account.saml_idp_metadata_xml == idp.metadata_xml()


@pytest.mark.parametrize(("content", "error"), [
    (b"<html><body>Sign in</body>", METADATA_NOT_XML),
    (SP_METADATA_ONLY.encode(), METADATA_NO_IDP),
])
def test_bad_metadata_is_a_form_error_and_nothing_is_saved(client, admin, account, content, error):
    upload = SimpleUploadedFile("idp.xml", content, content_type="text/xml")
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_file=upload))
    assert response.status_code == 200
    assert str(error) in response.content.decode()
    account.refresh_from_db()
    assert (account.auth_method, account.saml_idp_metadata_xml) == (AuthMethod.CLOUD_PASSWORD, "")


def test_a_metadata_url_that_does_not_answer_is_a_form_error(client, admin, account, settings):
    settings.SAML_METADATA_ALLOW_HTTP = True
    url = f"http://127.0.0.1:{free_port()}/metadata"
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_url=url))
    assert response.status_code == 200
    assert "The metadata could not be fetched from" in response.content.decode()
    account.refresh_from_db()
    assert account.auth_method == AuthMethod.CLOUD_PASSWORD


def test_a_metadata_url_without_tls_is_refused(client, admin, idp, account):
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_url=idp.metadata_url))
    assert response.status_code == 200 and str(METADATA_HTTPS_ONLY) in response.content.decode()


def test_a_metadata_url_on_a_private_address_is_a_form_error(client, admin, account):
    response = client.post(change_url(account), partner_post(account,
                                                             saml_idp_metadata_url="https://10.0.0.7/metadata"))
    assert response.status_code == 200
    assert str(METADATA_NOT_PUBLIC) in html.unescape(response.content.decode())
    account.refresh_from_db()
    assert (account.auth_method, account.saml_idp_metadata_url) == (AuthMethod.CLOUD_PASSWORD, "")


def test_saml_needs_metadata(client, admin, account):
    response = client.post(change_url(account), partner_post(account))
    assert response.status_code == 200
    assert "SAML single sign-on needs the identity provider&#x27;s metadata" in response.content.decode()


def test_the_page_shows_what_to_give_the_identity_provider(client, admin, account):
    page = client.get(change_url(account)).content.decode()
    for value in (f"{PORTAL}/accounts/saml/acme-saml/metadata/", f"{PORTAL}/accounts/saml/acme-saml/acs/"):
        assert f'<a href="{value}">{value}</a>' in page
    assert "SAML 2.0" in page and 'name="account_settings-0-saml_idp_metadata_file"' in page


def test_the_daily_refresh_keeps_new_metadata_and_the_last_good_copy_on_failure(idp, account, settings):
    settings.SAML_METADATA_ALLOW_HTTP = True
    old = idp.metadata_xml() + "<!-- the copy of yesterday -->"
    AccountSettings.objects.filter(pk=account.pk).update(
        auth_method=AuthMethod.SSO, sso_protocol=SsoProtocol.SAML, saml_idp_metadata_url=idp.metadata_url,
        saml_idp_metadata_xml=old)
    assert saml_metadata_refresh_task.delay().get() == 1
    account.refresh_from_db()
    assert account.saml_idp_metadata_xml == idp.metadata_xml()
    assert AuditEvent.objects.filter(action="saml.metadata_refreshed", target_id=str(account.pk)).count() == 1

    AccountSettings.objects.filter(pk=account.pk).update(saml_idp_metadata_url=f"http://127.0.0.1:{free_port()}/m")
    assert saml_metadata_refresh_all() == 0
    account.refresh_from_db()
    assert account.saml_idp_metadata_xml == idp.metadata_xml()


def test_expired_metadata_is_a_form_error(client, admin, idp, account):
    expired = idp.metadata_xml().replace(" entityID=", ' validUntil="2020-01-01T00:00:00Z" entityID=', 1)
    assert "validUntil" in expired
    upload = SimpleUploadedFile("idp.xml", expired.encode(), content_type="text/xml")
    response = client.post(change_url(account), partner_post(account, saml_idp_metadata_file=upload))
    assert response.status_code == 200 and str(METADATA_EXPIRED) in response.content.decode()
