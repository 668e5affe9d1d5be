"""The portal's SAML metadata per account, and the key pair behind it (made once, kept encrypted)."""

import xml.etree.ElementTree as ET

import defusedxml.ElementTree
import pytest
from cryptography import x509
from django.db import connection
from django.test import Client

from partners.models import AccountSettings, AuthMethod, SsoProtocol
from partners.services.saml import saml_sp_keys_ensure
from tests.partners.factories import AccountSettingsFactory, PartnerFactory
from tests.saml.saml_flow import PORTAL

pytestmark = pytest.mark.django_db

NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def metadata_of(slug: str = "acme-saml") -> ET.Element:
    response = Client().get(f"/accounts/saml/{slug}/metadata/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    return defusedxml.ElementTree.fromstring(response.content)


def test_the_metadata_names_the_accounts_entity_id_acs_and_certificate(idp, partner):
    root = metadata_of()
    assert root.get("entityID") == f"{PORTAL}/accounts/saml/acme-saml/metadata/"
    descriptor = root.find("md:SPSSODescriptor", NS)
    assert descriptor.get("AuthnRequestsSigned") == "true"
    assert descriptor.get("WantAssertionsSigned") == "true"
    [acs] = descriptor.findall("md:AssertionConsumerService", NS)
    assert (acs.get("Binding"), acs.get("Location")) == (POST, f"{PORTAL}/accounts/saml/acme-saml/acs/")
    uses = {key.get("use"): key.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text.strip()
            for key in descriptor.findall("md:KeyDescriptor", NS)}
    stored = AccountSettings.objects.get(partner=partner).saml_sp_certificate
    published = "".join(line for line in stored.splitlines() if "CERTIFICATE" not in line)
    assert uses == {"signing": published, "encryption": published}
    assert [f.text for f in descriptor.findall("md:NameIDFormat", NS)] == [
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"]


def test_the_key_pair_is_made_once_and_the_private_key_is_stored_encrypted(idp, partner):
    first = metadata_of()
    second = metadata_of()
    assert ET.tostring(first) == ET.tostring(second)
    account = AccountSettings.objects.get(partner=partner)
    certificate = x509.load_pem_x509_certificate(account.saml_sp_certificate.encode())
    assert certificate.public_key().key_size >= 2048
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days > 9 * 365
    assert "PRIVATE KEY" in account.saml_sp_private_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT saml_sp_private_key FROM onboarding_accountsettings WHERE partner_id = %s",
                       [partner.pk])
        [raw] = cursor.fetchone()
    assert "PRIVATE KEY" not in raw


def test_keys_already_made_are_kept(idp, partner):
    account = AccountSettings.objects.get(partner=partner)
    made = saml_sp_keys_ensure(account=account)
    again = saml_sp_keys_ensure(account=AccountSettings.objects.get(partner=partner))
    assert made.saml_sp_certificate == again.saml_sp_certificate


def test_an_account_being_set_up_for_saml_has_metadata_before_its_provider_is_known(idp):
    """The admin gives the identity provider the portal's metadata first, then gets the provider's."""
    partner = PartnerFactory(slug="setting-up", account_settings=None)
    AccountSettingsFactory(partner=partner, auth_method=AuthMethod.CLOUD_PASSWORD, sso_protocol=SsoProtocol.SAML)
    assert metadata_of("setting-up").get("entityID") == f"{PORTAL}/accounts/saml/setting-up/metadata/"


def test_no_metadata_for_an_account_without_saml(idp):
    PartnerFactory(slug="oidc-only")
    assert Client().get("/accounts/saml/oidc-only/metadata/").status_code == 404
    assert Client().get("/accounts/saml/nobody/metadata/").status_code == 404
