"""The SAML identity provider harness (tests/saml_idp.py) itself, driven by a bare pysaml2 service provider.

The SAML sign-in tests rely on these promises: the metadata names the entity, its signing certificate and both
SSO bindings; a signed response verifies with the IdP's metadata and carries the email as NameID and as the
"email" and Entra claim attributes; each misbehaviour knob (unsigned, other audience or recipient, expired,
error status) shows in the XML as asked; assertions are encrypted for an SP that publishes an encryption
certificate; every response is recorded; untrusted SPs and unregistered ACS URLs get a 400 page. No portal code
and no Django database are involved: the SP is pysaml2's Saml2Client with a key pair of its own.
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from defusedxml.ElementTree import fromstring
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import StatusAuthnFailed, VerificationError
from saml2.sigver import SignatureError

from tests.saml_idp import SamlIdentityProvider

pytestmark = pytest.mark.integration

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
SP_ENTITY_ID = "http://sp.test/saml/acme/metadata/"
SP_ACS = "http://sp.test/saml/acme/acs/"


def write_key_pair(directory: Path) -> tuple[str, str]:
    """The SP's own RSA key and self-signed certificate (never the IdP's)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "sp-key.pem", directory / "sp-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


def make_sp(idp: SamlIdentityProvider, directory: Path, *, entity_id: str = SP_ENTITY_ID, encryption: bool = False,
            want_signed: bool = True) -> Saml2Client:
    """A pysaml2 SP that signs its AuthnRequests (HTTP-Redirect, RSA-SHA256) as the portal does."""
    key_file, cert_file = write_key_pair(directory)
    settings = {
        "entityid": entity_id,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "key_file": key_file,
        "cert_file": cert_file,
        "metadata": {"inline": [idp.metadata_xml()]},
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(SP_ACS, BINDING_HTTP_POST)]},
            "authn_requests_signed": True,
            "want_response_signed": want_signed,
            "want_assertions_signed": want_signed,
            "allow_unsolicited": False,
        }},
    }
    if encryption:
        settings["encryption_keypairs"] = [{"key_file": key_file, "cert_file": cert_file}]
    config = SPConfig()
    config.load(settings)
    return Saml2Client(config)


def sp_metadata(sp: Saml2Client) -> str:
    return str(entity_descriptor(sp.config))


@dataclass
class SignIn:
    """One trip to the IdP: the AuthnRequest's ID, the IdP's page, and the form it holds."""

    request_id: str
    page: requests.Response
    form: dict[str, str]

    @property
    def xml(self) -> Element:
        return fromstring(base64.b64decode(self.form["SAMLResponse"]))


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, str] = {}
        self.buttons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.form["action"] = values["action"] or ""
            self.form["method"] = values["method"] or ""
        elif tag == "input" and values.get("name"):
            self.form[values["name"]] = values.get("value") or ""
        elif tag == "button":
            self.buttons.append(values.get("type") or "")


def sign_in(idp: SamlIdentityProvider, sp: Saml2Client, *, relay_state: str = "rs-1",
            binding: str = BINDING_HTTP_REDIRECT) -> SignIn:
    """Send the SP's AuthnRequest to the IdP as a browser would and read the auto-submitting form."""
    request_id, info = sp.prepare_for_authenticate(entityid=idp.entity_id, relay_state=relay_state, binding=binding)
    if binding == BINDING_HTTP_REDIRECT:
        page = requests.get(dict(info["headers"])["Location"], timeout=10)
    else:
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', info["data"]))
        page = requests.post(f"{idp.url}/sso", data=fields, timeout=10)
    parser = _FormParser()
    parser.feed(page.text)
    return SignIn(request_id=request_id, page=page, form=parser.form)


def parse(sp: Saml2Client, result: SignIn):
    return sp.parse_authn_request_response(result.form["SAMLResponse"], BINDING_HTTP_POST,
                                           outstanding={result.request_id: "/"})


@pytest.fixture
def idp(saml_idp: SamlIdentityProvider) -> Iterator[SamlIdentityProvider]:
    saml_idp.reset()
    yield saml_idp
    saml_idp.reset()


@pytest.fixture
def sp(idp: SamlIdentityProvider, tmp_path: Path) -> Saml2Client:
    client = make_sp(idp, tmp_path / "sp")
    idp.trust(sp_metadata(client))
    return client


def test_metadata_names_the_entity_the_signing_certificate_and_both_sso_bindings(idp: SamlIdentityProvider) -> None:
    response = requests.get(idp.metadata_url, timeout=10)
    document = fromstring(response.content)

    assert response.status_code == 200
    assert idp.entity_id == idp.metadata_url == f"{idp.url}/metadata"
    assert urlsplit(idp.url).hostname == "127.0.0.1"
    assert response.text == idp.metadata_xml()
    assert document.get("entityID") == idp.entity_id
    descriptor = document.find("md:IDPSSODescriptor", NS)
    assert descriptor is not None
    assert descriptor.find("md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None
    services = {(service.get("Binding"), service.get("Location"))
                for service in descriptor.findall("md:SingleSignOnService", NS)}
    assert services == {(BINDING_HTTP_REDIRECT, f"{idp.url}/sso"), (BINDING_HTTP_POST, f"{idp.url}/sso")}


def test_a_signed_response_verifies_and_carries_the_email(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="Ann.Mixed@acme.example")

    result = sign_in(idp, sp, relay_state="next-42")
    response = parse(sp, result)

    assert result.page.status_code == 200
    assert "<title>Signing you in</title>" in result.page.text
    assert "<script>" in result.page.text  # the page submits itself in a browser
    assert result.form == {"action": SP_ACS, "method": "post", "SAMLResponse": idp.last_form["SAMLResponse"],
                           "RelayState": "next-42"}
    assert response.name_id.text == "Ann.Mixed@acme.example"
    assert response.name_id.format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert response.ava["email"] == ["Ann.Mixed@acme.example"]
    assert response.ava[EMAIL_CLAIM] == ["Ann.Mixed@acme.example"]
    assert response.response.signature is not None
    assert response.assertion.signature is not None
    assert response.assertion.conditions.audience_restriction[0].audience[0].text == SP_ENTITY_ID
    xml = result.xml
    assert xml.get("InResponseTo") == result.request_id
    assert xml.get("Destination") == SP_ACS
    assert xml.findtext("saml:Issuer", namespaces=NS) == idp.entity_id
    assert xml.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")


def test_a_tampered_response_fails_the_signature_check(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example")
    result = sign_in(idp, sp)
    forged = base64.b64decode(result.form["SAMLResponse"]).replace(b"ann@acme.example", b"eve@acme.example")
    result.form["SAMLResponse"] = base64.b64encode(forged).decode()

    with pytest.raises(SignatureError):
        parse(sp, result)


def test_attributes_and_name_id_can_be_overridden(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", name_id="00u1-opaque", attributes={"email": ["other@acme.example"],
                                                                          "givenName": "Ann"})

    response = parse(sp, sign_in(idp, sp))

    assert response.name_id.text == "00u1-opaque"
    assert response.name_id.format == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert response.ava == {"email": ["other@acme.example"], EMAIL_CLAIM: ["ann@acme.example"], "givenName": ["Ann"]}


def test_an_empty_list_leaves_an_attribute_out(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", attributes={EMAIL_CLAIM: []})

    response = parse(sp, sign_in(idp, sp))

    assert response.ava == {"email": ["ann@acme.example"]}
    assert response.name_id.text == "ann@acme.example"


def test_an_unsigned_assertion_is_reported_unsigned(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", sign_response=False, sign_assertion=False)

    result = sign_in(idp, sp)

    assert result.xml.findall(".//ds:Signature", NS) == []
    assert result.xml.find("saml:Assertion", NS) is not None
    with pytest.raises(SignatureError):
        parse(sp, result)  # the SP wants signatures


def test_only_the_assertion_can_be_signed(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", sign_response=False, sign_assertion=True)

    result = sign_in(idp, sp)

    assert result.xml.find("ds:Signature", NS) is None
    assert result.xml.find("saml:Assertion/ds:Signature", NS) is not None


def test_audience_and_recipient_overrides_show(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", audience="http://other-sp.test/metadata/",
               recipient="http://other-sp.test/acs/")

    result = sign_in(idp, sp)

    xml = result.xml
    assert xml.findtext("saml:Assertion/saml:Conditions/saml:AudienceRestriction/saml:Audience",
                        namespaces=NS) == "http://other-sp.test/metadata/"
    confirmation = xml.find("saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert confirmation.get("Recipient") == "http://other-sp.test/acs/"
    assert xml.get("Destination") == "http://other-sp.test/acs/"
    assert result.form["action"] == SP_ACS  # the browser still goes to the SP's ACS
    # pysaml2 as an SP does not raise on a foreign Destination: it logs it and returns an unverified response
    # with neither subject nor attributes, which an SP must treat as a refusal.
    refused = parse(sp, result)
    assert refused.name_id is None
    assert refused.ava is None


def test_another_audience_fails_the_sps_audience_check(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", audience="http://other-sp.test/metadata/")

    result = sign_in(idp, sp)

    assert result.xml.find("ds:Signature", NS) is not None  # validly signed, only meant for someone else
    with pytest.raises(Exception, match="AudienceRestrictions conditions not satisfied"):
        parse(sp, result)


def test_valid_seconds_sets_not_on_or_after_and_may_be_in_the_past(idp: SamlIdentityProvider,
                                                                  sp: Saml2Client) -> None:
    def not_on_or_after(xml: Element) -> datetime.datetime:
        conditions = xml.find("saml:Assertion/saml:Conditions", NS).get("NotOnOrAfter")
        confirmation = xml.find(
            "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS
        ).get("NotOnOrAfter")
        assert conditions == confirmation
        return datetime.datetime.strptime(conditions, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)

    now = datetime.datetime.now(datetime.UTC)
    idp.answer(email="ann@acme.example", valid_seconds=600)
    fresh = sign_in(idp, sp)
    idp.answer(email="ann@acme.example", valid_seconds=-600)
    expired = sign_in(idp, sp)

    assert abs((not_on_or_after(fresh.xml) - now).total_seconds() - 600) < 30
    assert abs((not_on_or_after(expired.xml) - now).total_seconds() + 600) < 30
    assert parse(sp, fresh).ava["email"] == ["ann@acme.example"]
    with pytest.raises(VerificationError, match="Condition not OK"):
        parse(sp, expired)


def test_assertions_are_encrypted_for_an_sp_with_an_encryption_certificate(idp: SamlIdentityProvider,
                                                                         tmp_path: Path) -> None:
    sp = make_sp(idp, tmp_path / "enc-sp", encryption=True)
    idp.trust(sp_metadata(sp))
    idp.answer(email="ann@acme.example", encrypt_assertion=True)

    result = sign_in(idp, sp)
    response = parse(sp, result)

    method = result.xml.find("saml:EncryptedAssertion/xenc:EncryptedData/xenc:EncryptionMethod", NS)
    assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
    assert result.xml.find("saml:Assertion", NS) is None
    assert b"ann@acme.example" not in base64.b64decode(result.form["SAMLResponse"])
    assert response.ava["email"] == ["ann@acme.example"]
    assert response.name_id.text == "ann@acme.example"


def test_answering_nobody_gives_a_responder_authn_failed_status(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email=None)

    result = sign_in(idp, sp)

    status = result.xml.find("samlp:Status/samlp:StatusCode", NS)
    assert status.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Responder"
    assert status.find("samlp:StatusCode", NS).get("Value") == "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
    assert result.xml.find("saml:Assertion", NS) is None
    assert result.xml.get("InResponseTo") == result.request_id
    with pytest.raises(StatusAuthnFailed):
        parse(sp, result)


def test_after_reset_nobody_is_answered_and_no_sp_is_trusted(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example")
    sign_in(idp, sp)

    idp.reset()
    refused = sign_in(idp, sp)
    idp.trust(sp_metadata(sp))
    answered = sign_in(idp, sp)

    assert refused.page.status_code == 400
    assert idp.responses == [answered.form["SAMLResponse"]]
    with pytest.raises(StatusAuthnFailed):
        parse(sp, answered)


def test_every_response_is_recorded_oldest_first(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example")

    first = sign_in(idp, sp, relay_state="one")
    second = sign_in(idp, sp, relay_state="two", binding=BINDING_HTTP_POST)  # the POST binding is accepted too

    assert idp.responses == [first.form["SAMLResponse"], second.form["SAMLResponse"]]
    assert idp.last_form == {"action": SP_ACS, "SAMLResponse": second.form["SAMLResponse"], "RelayState": "two"}
    assert second.xml.get("InResponseTo") == second.request_id
    assert parse(sp, second).ava["email"] == ["ann@acme.example"]


def test_an_untrusted_sp_gets_an_error_page(idp: SamlIdentityProvider, sp: Saml2Client, tmp_path: Path) -> None:
    stranger = make_sp(idp, tmp_path / "stranger", entity_id="http://stranger.test/metadata/")
    idp.answer(email="ann@acme.example")

    result = sign_in(idp, stranger)

    assert result.page.status_code == 400
    assert "is not trusted" in result.page.text
    assert idp.responses == []
    assert idp.last_form == {}


def test_an_acs_the_sp_did_not_register_is_refused(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example")
    _, info = sp.prepare_for_authenticate(entityid=idp.entity_id, relay_state="x",
                                          assertion_consumer_service_url="http://evil.test/acs/")

    page = requests.get(dict(info["headers"])["Location"], timeout=10)

    assert page.status_code == 400
    assert "is not registered" in page.text
    assert idp.responses == []


def test_a_provider_started_on_its_own_stops_cleanly() -> None:
    provider = SamlIdentityProvider().start()
    url = provider.url
    assert requests.get(provider.metadata_url, timeout=10).status_code == 200

    provider.stop()
    provider.stop()  # idempotent

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/metadata", timeout=2)


def test_a_redirect_signature_is_verified_against_the_sps_metadata(idp: SamlIdentityProvider, sp: Saml2Client,
                                                                   tmp_path: Path) -> None:
    impostor = make_sp(idp, tmp_path / "impostor")  # the same entity ID, another key
    idp.answer(email="ann@acme.example")
    _, info = sp.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs")
    location = dict(info["headers"])["Location"]

    forged_key = sign_in(idp, impostor)
    forged_relay_state = requests.get(location.replace("RelayState=rs", "RelayState=elsewhere"), timeout=10)
    genuine = requests.get(location, timeout=10)

    assert forged_key.page.status_code == 400
    assert "not signed correctly" in forged_key.page.text
    assert forged_relay_state.status_code == 400
    assert genuine.status_code == 200
    assert len(idp.responses) == 1


def test_an_unsigned_request_is_answered(idp: SamlIdentityProvider, sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example")
    request_id, info = sp.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs", sign=False)
    location = dict(info["headers"])["Location"]

    page = requests.get(location, timeout=10)

    assert "Signature=" not in location
    assert page.status_code == 200
    assert fromstring(base64.b64decode(idp.last_form["SAMLResponse"])).get("InResponseTo") == request_id


def test_encryption_for_an_sp_without_an_encryption_certificate_is_refused(idp: SamlIdentityProvider,
                                                                          sp: Saml2Client) -> None:
    idp.answer(email="ann@acme.example", encrypt_assertion=True)

    result = sign_in(idp, sp)

    assert result.page.status_code == 400
    assert "publishes no encryption certificate" in result.page.text
    assert idp.responses == []
