"""In Chromium with a virtual authenticator (CDP WebAuthn domain): registering a passkey, giving the second
factor with it, passwordless sign-in, removal, the phishing-resistant policy, and an assertion made on another
origin, which the portal refuses and audits.

WebAuthn refuses IP addresses as relying party, so the pages are opened at http://localhost:<live port> and
PORTAL_URL is set to that (the relying party id and allowed origins are read per request); axe-core checks the
pages of that origin (the audit's origin is moved to it).
"""

import base64
import http.server
import json
import threading
from urllib.parse import urlsplit

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from accounts.models import TOTPDevice
from accounts.services import passkeys, two_factor
from core.models import AuditEvent, OutboundMail
from partners.models import TwoFactorPolicy
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VIRTUAL_AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                         "hasUserVerification": True, "isUserVerified": True}


@pytest.fixture
def portal(live_server, settings, axe_audit):
    """The live server's address by name (a relying party must be a name), as PORTAL_URL and for axe-core."""
    url = f"http://localhost:{urlsplit(live_server.url).port}"
    settings.PORTAL_URL = url
    axe_audit.origin = f"{url}/"
    return url


@pytest.fixture
def authenticator(page):
    """A platform authenticator with resident keys and user verification, in this page's browser tab."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    yield cdp, found["authenticatorId"]
    cdp.send("WebAuthn.disable")


def stored_credentials(authenticator) -> list:
    cdp, authenticator_id = authenticator
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def sign_in_with_password(page, portal: str, email: str) -> None:
    page.goto(f"{portal}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{portal}/accounts/login/password/")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def add_passkey(page, portal: str, name: str) -> None:
    page.goto(f"{portal}/accounts/two-factor/passkeys/")
    page.get_by_label("Name of the passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator(".messages")).to_contain_text(str(passkeys.PASSKEY_ADDED))


def test_a_person_adds_a_passkey_and_gives_the_second_factor_with_it(portal, page, authenticator, axe_audit):
    person = UserFactory(display_email="Pat.Passkey@Browser-Partner.example")
    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/")

    add_passkey(page, portal, "Work laptop")
    expect(page.locator("ul.passkeys")).to_contain_text("Work laptop")
    assert len(stored_credentials(authenticator)) == 1
    assert AuditEvent.objects.filter(action="two_factor.passkey_added", target_id=str(person.pk)).exists()
    assert OutboundMail.objects.filter(to=person.display_email, template="passkey_added").exists()

    sign_out(page)
    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/accounts/login/verify/")
    page.get_by_role("button", name="Use a passkey or security key").click()
    page.wait_for_url(f"{portal}/")
    success = AuditEvent.objects.filter(action="signin.succeeded", target_id=str(person.pk)).latest("pk")
    assert success.data["second_factor"] == "WebAuthnCredential"
    assert axe_audit.checks > 0  # the pages at localhost were checked too


def test_a_passkey_alone_signs_in_and_can_be_removed(portal, page, authenticator):
    person = UserFactory(display_email="Robin.Passwordless@Browser-Partner.example")
    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/")
    add_passkey(page, portal, "Phone")
    sign_out(page)

    page.goto(f"{portal}/accounts/login/?next=/accounts/security/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{portal}/accounts/security/")
    success = AuditEvent.objects.filter(action="signin.succeeded", target_id=str(person.pk)).latest("pk")
    assert success.data == {"method": "passkey", "second_factor": "WebAuthnCredential"}

    page.get_by_role("link", name="Manage passkeys").click()
    page.get_by_role("link", name="Remove Phone").click()
    page.get_by_role("button", name="Remove the passkey").click()
    expect(page.locator(".messages")).to_contain_text(str(passkeys.PASSKEY_REMOVED))
    expect(page.get_by_text("You have no passkey yet.")).to_be_visible()
    assert not WebAuthnCredential.objects.filter(user=person).exists()
    assert OutboundMail.objects.filter(to=person.display_email, template="passkey_removed").exists()

    # The authenticator still holds the key, but the portal no longer knows it.
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#passkey-status")).to_have_text(str(passkeys.PASSKEY_SIGNIN_REFUSED))


def test_a_phishing_resistant_policy_sends_an_app_user_to_register_a_passkey_then_refuses_codes(
    portal, page, authenticator,
):
    person = UserFactory(display_email="Casey.Careful@Browser-Partner.example")
    app = TOTPDevice.objects.create(user=person, name="app", confirmed=True)
    account = person.partner.account_settings
    account.two_factor_policy, account.two_factor_phishing_resistant = TwoFactorPolicy.REQUIRED, True
    account.two_factor_grace_days = 0
    account.save()
    person.two_factor_required_since = person.date_joined
    person.save()

    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/accounts/login/verify/")
    page.fill("input[name=token]", totp_code(app.bin_key))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{portal}/accounts/two-factor/passkeys/")
    expect(page.locator(".messages")).to_contain_text("Your account needs a passkey or security key")
    page.goto(f"{portal}/partners/")
    page.wait_for_url(f"{portal}/accounts/two-factor/passkeys/")  # nothing else until it has one

    page.get_by_label("Name of the passkey").fill("Security key")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{portal}/")
    sign_out(page)

    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/accounts/login/verify/")
    expect(page.locator("h1")).to_have_text("Use your passkey")
    expect(page.locator("input[name=token]")).to_have_count(0)
    csrf = page.locator("#passkey").get_attribute("data-csrf-token")
    # A code is refused outright, whatever it is (the page no longer asks for one).
    refused = page.request.post(f"{portal}/accounts/login/verify/", form={"csrfmiddlewaretoken": csrf,
                                                                          "token": "123456"})
    assert str(passkeys.CODES_REFUSED) in refused.text()
    page.get_by_role("button", name="Use a passkey or security key").click()
    page.wait_for_url(f"{portal}/")


class _Blank(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><html lang='en'><title>Elsewhere</title><h1>Elsewhere</h1></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_origin():
    """A second live origin on this machine (another port of localhost): a page that is not the portal."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


GET_ASSERTION = """async (options) => {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const credential = await navigator.credentials.get({publicKey});
  return credential.toJSON();
}"""
POST_JSON = """async ([url, csrf, body]) => {
  const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                                     body: JSON.stringify(body)});
  return {status: response.status, body: await response.json()};
}"""


def test_an_assertion_made_on_another_origin_is_refused_and_audited(portal, page, authenticator, other_origin):
    person = UserFactory(display_email="Sam.Spoofed@Browser-Partner.example")
    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/")
    add_passkey(page, portal, "Laptop")
    sign_out(page)

    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/accounts/login/verify/")
    csrf = page.locator("#passkey").get_attribute("data-csrf-token")
    begun = page.evaluate(POST_JSON, [f"{portal}/accounts/login/verify/passkey/begin/", csrf, {}])
    assert begun["status"] == 200
    # The same authenticator answers the portal's own challenge, on a page of another origin (a phishing site
    # relaying the challenge): the browser signs that origin into the assertion.
    page.goto(f"{other_origin}/")
    assertion = page.evaluate(GET_ASSERTION, begun["body"])
    client_data = assertion["response"]["clientDataJSON"]
    assert json.loads(base64.urlsafe_b64decode(client_data + "=" * (-len(client_data) % 4)))["origin"] == other_origin
    page.goto(f"{portal}/accounts/login/verify/")
    answer = page.evaluate(POST_JSON, [f"{portal}/accounts/login/verify/passkey/complete/", csrf, assertion])

    assert answer["status"] == 403
    assert answer["body"]["detail"] == str(passkeys.PASSKEY_CEREMONY_FAILED)
    failure = AuditEvent.objects.filter(action="signin.failed", target_id=str(person.pk)).latest("pk")
    assert failure.data["reason"] == "passkey: invalid_authentication_response"
    page.goto(f"{portal}/")
    page.wait_for_url(f"{portal}/accounts/login/**")  # not signed in


def test_a_session_that_signed_in_long_ago_is_told_to_sign_in_again_to_add_a_passkey(portal, page, settings):
    """The passkey page without its button (and the sign-in-again note, checked by axe-core as every page is)."""
    from accounts.flow import SIGNED_IN_AT
    from accounts.sessions import SessionStore

    person = UserFactory(display_email="Sam.Stale@Browser-Partner.example")
    sign_in_with_password(page, portal, person.display_email)
    page.wait_for_url(f"{portal}/")
    [cookie] = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SIGNED_IN_AT] = session[SIGNED_IN_AT] - two_factor.RECENT_SIGNIN_SECONDS - 60
    session.save()
    page.goto(f"{portal}/accounts/two-factor/passkeys/")
    expect(page.locator("p.warn")).to_contain_text(str(passkeys.PASSKEY_SIGN_IN_AGAIN))
    expect(page.get_by_role("button", name="Add a passkey")).to_have_count(0)
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
