"""Fetching an identity provider's metadata from the URL an admin gave: the webhooks' rules against SSRF (https,
public addresses, checked again at connecting and at every redirect), a few redirects at most, one deadline for
the whole fetch and a size cap. The server here is a real one on loopback, which the suite allows as it allows
the test identity provider."""

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from partners.models import AccountSettings, AuthMethod, SsoProtocol
from partners.services import saml as saml_services
from partners.services.saml import (
    METADATA_FETCH_FAILED,
    METADATA_HTTPS_ONLY,
    METADATA_NOT_PUBLIC,
    METADATA_REDIRECT_NOT_HTTPS,
    METADATA_TOO_LARGE,
    METADATA_TOO_MANY_REDIRECTS,
    METADATA_TOO_SLOW,
    METADATA_UNRESOLVED,
    SamlMetadataInvalid,
    saml_idp_metadata_fetch,
    saml_metadata_refresh,
)
from tests.partners.factories import AccountSettingsFactory, PartnerFactory

METADATA = b'<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>'


class _Handler(BaseHTTPRequestHandler):
    """/metadata answers; /to redirects to the server's `target`; /loop redirects to itself; /big is larger than
    the cap; /trickle sends a byte at a time, slowly. Every path asked for is recorded on the server."""

    def do_GET(self):
        self.server.paths.append(self.path)
        path = self.path
        if path == "/metadata":
            self._send(200, METADATA)
        elif path == "/to":
            self._redirect(self.server.target)
        elif path == "/loop":
            self._redirect("/loop")
        elif path == "/big":
            self._send(200, b"<x>" + b"a" * 4096 + b"</x>")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        else:
            self._send(404, b"")

    def _redirect(self, location: str):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(settings):
    settings.SAML_METADATA_ALLOW_HTTP = True  # this server is on loopback, without TLS
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.paths, httpd.target = [], "/metadata"
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def refused_with(url: str, message) -> None:
    with pytest.raises(SamlMetadataInvalid) as refused:
        saml_idp_metadata_fetch(url=url)
    assert str(refused.value) == str(message)


def test_metadata_is_fetched_and_a_redirect_on_an_allowed_address_followed(server):
    assert saml_idp_metadata_fetch(url=f"{server.url}/metadata") == METADATA.decode()
    assert saml_idp_metadata_fetch(url=f"{server.url}/to") == METADATA.decode()
    assert server.paths == ["/metadata", "/to", "/metadata"]


@pytest.mark.parametrize("target", ["http://10.0.0.7/metadata", "http://169.254.169.254/latest/meta-data/",
                                    "https://192.168.1.20/metadata", "https://[fd00::1]/metadata",
                                    "https://[::ffff:10.0.0.7]/metadata"])
def test_a_redirect_to_a_private_address_is_refused_before_connecting(server, target):
    server.target = target
    refused_with(f"{server.url}/to", METADATA_NOT_PUBLIC)
    assert server.paths == ["/to"]


def test_a_redirect_to_http_is_refused_unless_http_is_allowed(server, settings, monkeypatch):
    server.target = "http://idp.example.com/metadata"
    check = saml_services._metadata_url_check
    # The suite's server has no TLS: its own http:// URL is let through here, the redirect's is judged as ever.
    monkeypatch.setattr(saml_services, "_metadata_url_check", lambda url, *, loopback, redirected: check(
        url, loopback=loopback, redirected=redirected) if redirected else None)
    settings.SAML_METADATA_ALLOW_HTTP = False
    refused_with(f"{server.url}/to", METADATA_REDIRECT_NOT_HTTPS)
    assert server.paths == ["/to"]


@pytest.mark.parametrize("url", ["https://10.0.0.7/metadata", "https://169.254.169.254/", "https://[fd00::1]/m"])
def test_a_private_address_is_refused(url):
    refused_with(url, METADATA_NOT_PUBLIC)


def test_loopback_is_refused_where_neither_setting_allows_it(server, settings):
    settings.SAML_METADATA_ALLOW_HTTP, settings.WEBHOOK_ALLOW_LOOPBACK_HTTP, settings.DEBUG = False, False, False
    refused_with(f"https://127.0.0.1:{server.server_address[1]}/metadata", METADATA_NOT_PUBLIC)
    assert server.paths == []


def test_the_connection_itself_refuses_an_address_the_url_check_let_through(server, settings, monkeypatch):
    """DNS rebinding: the name resolved to a public address when checked, and to loopback when connecting."""
    settings.SAML_METADATA_ALLOW_HTTP, settings.WEBHOOK_ALLOW_LOOPBACK_HTTP, settings.DEBUG = False, False, False
    monkeypatch.setattr(saml_services, "_metadata_url_check", lambda url, **kwargs: None)  # fooled
    refused_with(f"http://127.0.0.1:{server.server_address[1]}/metadata", METADATA_NOT_PUBLIC)
    assert server.paths == []


@pytest.mark.parametrize("url", ["http://idp.example.com/metadata", "ftp://idp.example.com/metadata",
                                 "https://user:secret@idp.example.com/metadata", "https://idp.example.com:99999/"])
def test_only_https_is_fetched_unless_http_is_allowed(settings, url):
    settings.SAML_METADATA_ALLOW_HTTP = False
    refused_with(url, METADATA_HTTPS_ONLY)


def test_an_unresolvable_host_is_refused():
    refused_with("https://no-such-host.invalid/metadata", METADATA_UNRESOLVED)


def test_at_most_three_redirects_are_followed(server):
    refused_with(f"{server.url}/loop", METADATA_TOO_MANY_REDIRECTS.format(count=3))
    assert server.paths == ["/loop"] * 4


def test_metadata_larger_than_the_cap_is_refused(server, settings):
    settings.SAML_METADATA_MAX_BYTES = 1024
    refused_with(f"{server.url}/big", METADATA_TOO_LARGE.format(size=0))


def test_a_server_sending_slowly_is_cut_off_at_the_deadline_for_the_whole_fetch(server, settings):
    """Each byte comes well within a read timeout; the whole body would take minutes."""
    settings.SAML_METADATA_TIMEOUT = 1
    started = time.monotonic()
    refused_with(f"{server.url}/trickle", METADATA_TOO_SLOW.format(seconds=1))
    assert time.monotonic() - started < 2


def test_an_error_status_is_a_failed_fetch(server):
    refused_with(f"{server.url}/missing", METADATA_FETCH_FAILED.format(url=f"{server.url}/missing",
                                                                       reason="HTTPError"))


@pytest.mark.django_db
def test_the_daily_refresh_logs_a_refused_address_and_keeps_the_copy(server, caplog):
    server.target = "http://169.254.169.254/latest/meta-data/"
    account = AccountSettingsFactory(
        partner=PartnerFactory(slug="acme-saml", account_settings=None), auth_method=AuthMethod.SSO,
        sso_protocol=SsoProtocol.SAML, saml_idp_metadata_url=f"{server.url}/to",
        saml_idp_metadata_xml="<kept/>",
    )
    with caplog.at_level(logging.WARNING, logger="partners.services.saml"):
        assert saml_metadata_refresh(account=account) is False
    assert str(METADATA_NOT_PUBLIC) in caplog.text
    assert AccountSettings.objects.get(pk=account.pk).saml_idp_metadata_xml == "<kept/>"
