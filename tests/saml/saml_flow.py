"""Helpers of the SAML tests: single sign-on against the real identity provider of tests/saml_idp.py.

The portal is driven with Django's test client; the identity provider over real HTTP. Its answer is posted to
the ACS by a client without cookies, as a browser's cross-site POST arrives (SameSite=Lax keeps the session
cookie back), and only the GET the ACS redirects to goes with the browser's session.

The partner "acme-saml" owns acme-saml.example; its directory (a CSV connection) knows ann (with the alias
alias.ann@…), dan and bob, so that the address rule sees primary addresses and an alias.
"""

import html
from urllib.parse import urlsplit

import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from partners.models import AccountDomain, AuthMethod, SsoProtocol
from tests.partners.factories import AccountSettingsFactory, PartnerFactory

SAML_DOMAIN = "acme-saml.example"
ANN = "ann@acme-saml.example"
ALIAS = "alias.ann@acme-saml.example"
DIRECTORY_CSV = (
    "name,primary,aliases,forwarding,enabled\n"
    "Ann Partner,ann@acme-saml.example,alias.ann@acme-saml.example,,yes\n"
    "Dan Disabled,dan@acme-saml.example,,,yes\n"
    "Bob Other,bob@acme-saml.example,,,yes\n"
)
PORTAL = "http://testserver"


def saml_partner(idp, *, slug: str = "acme-saml", domain: str = SAML_DOMAIN, enforced: bool = False,
                 directory: bool = True, **settings):
    """A partner whose account signs in with SAML at `idp`, owning `domain`; the IdP trusts its metadata."""
    partner = PartnerFactory(name=slug.replace("-", " ").title(), slug=slug, account_settings=None)
    AccountSettingsFactory(
        partner=partner, auth_method=AuthMethod.SSO, sso_protocol=SsoProtocol.SAML, sso_enforced=enforced,
        saml_idp_metadata_xml=idp.metadata_xml(), **settings,
    )
    AccountDomain.objects.create(partner=partner, domain=domain)
    if directory:
        connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
        directory_csv_import(connection=connection, data=DIRECTORY_CSV.encode())
    metadata = Client().get(f"/accounts/saml/{slug}/metadata/")
    assert metadata.status_code == 200
    idp.trust(metadata.content.decode())
    return partner


def start(client: Client, email: str = ANN) -> str:
    """The email step, then single sign-on: the address of the identity provider the portal sends the browser to."""
    client.post("/accounts/login/", {"email": email})
    response = client.get("/accounts/sso/start/")
    assert response.status_code == 302, response
    return response["Location"]


def at_idp(idp, url: str) -> dict:
    """The identity provider's page for the AuthnRequest at `url`: the form it posts back to the portal."""
    page = requests.get(url, timeout=10)
    assert page.status_code == 200, page.text
    assert idp.last_form["SAMLResponse"] in page.text
    return dict(idp.last_form)


def post_to_acs(form: dict, *, action: str | None = None):
    """The identity provider's POST to the ACS, as a cross-site POST: no cookie of the browser's goes with it."""
    path = urlsplit(action or form["action"]).path
    data = {key: value for key, value in form.items() if key != "action"}
    return Client().post(path, data)


def finish(client: Client, acs_response):
    """The browser follows the ACS's 303 with its own session; the page it ends on."""
    assert acs_response.status_code == 303, acs_response
    return client.get(acs_response["Location"], follow=True)


def saml_sign_in(client: Client, idp, email: str = ANN):
    """Type `email`, go to the identity provider, come back: the page the portal ends on."""
    form = at_idp(idp, start(client, email))
    return finish(client, post_to_acs(form))


def signed_in_pk(client: Client):
    return client.session.get(SESSION_KEY)


def text_of(response) -> str:
    return html.unescape(response.content.decode())
