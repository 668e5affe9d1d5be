"""A real SAML 2.0 identity provider for sign-in tests: pysaml2's own IdP (saml2.server.Server) on loopback.

It runs in a background thread of the pytest process (http.server on 127.0.0.1, a free port) and signs with
RSA-SHA256 through xmlsec1, with a key pair generated at start in a temporary directory. No Django inside:

    idp = SamlIdentityProvider().start()
    idp.trust(sp_metadata_xml)                    # the SP it answers; others get a 400 page
    idp.answer(email="ann@acme.example")          # who the next sign-ins are answered as
    ...                                           # the SP redirects the browser to {idp.url}/sso
    idp.last_form                                 # {"action": ACS, "SAMLResponse": ..., "RelayState": ...}
    idp.reset()                                   # nobody answered, no SP trusted, no responses recorded
    idp.stop()

The knobs of `answer()` produce the responses a careless or hostile IdP would send (unsigned, expired, for
another audience or recipient, an error status), so the service provider's refusals can be tested for real.
"""

from __future__ import annotations

import base64
import datetime
import html
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp
from saml2.assertion import Policy
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.mdstore import InMemoryMetaData
from saml2.metadata import entity_descriptor
from saml2.s_utils import factory
from saml2.saml import NAME_FORMAT_BASIC, NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.sigver import get_pem_wrapped_unwrapped, make_temp, pre_encryption_part
from saml2.time_util import in_a_while, instant
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC_BINARY = "/usr/bin/xmlsec1"
# The claim Entra ID and AD FS put the mail address in; the portal may be configured to read either name.
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"


@dataclass(frozen=True)
class _Answer:
    """How the next sign-ins are answered (see `SamlIdentityProvider.answer`)."""

    email: str | None = None
    name_id: str | None = None
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sign_response: bool = True
    sign_assertion: bool = True
    encrypt_assertion: bool = False
    audience: str | None = None
    recipient: str | None = None
    valid_seconds: int = 300


class _AnswerPolicy(Policy):
    """The release policy of one answer: everything asked for is released, as is, for the chosen audience.

    pysaml2's own policy filters attributes by what the SP's metadata requests and takes the audience and
    lifetime from configuration; a test IdP must send exactly what the test asked for, including the wrong
    audience or an assertion that has already expired (negative `valid_seconds`).
    """

    def __init__(self, *, audience: str | None, valid_seconds: int, mds: Any) -> None:
        super().__init__(mds=mds)
        self.audience = audience
        self.valid_seconds = valid_seconds

    def restrict(self, ava: dict, sp_entity_id: str, metadata: Any = None) -> dict:
        return dict(ava)

    def not_on_or_after(self, sp_entity_id: str) -> str:
        return in_a_while(seconds=self.valid_seconds)

    def conditions(self, sp_entity_id: str) -> saml.Conditions:
        audience = self.audience if self.audience is not None else sp_entity_id
        return factory(
            saml.Conditions,
            not_before=instant(),
            not_on_or_after=self.not_on_or_after(sp_entity_id),
            audience_restriction=[
                factory(saml.AudienceRestriction, audience=[factory(saml.Audience, text=audience)]),
            ],
        )


class _PassThroughConverter(AttributeConverter):
    """Sends attribute names exactly as given: the Entra claim URI with NameFormat uri, short names as basic.

    pysaml2's default converters would turn "email" into an OID and lower-case unknown names.
    """

    def __init__(self) -> None:
        super().__init__(NAME_FORMAT_URI)

    def to_(self, attrvals: Mapping[str, Sequence[str]]) -> list[saml.Attribute]:
        attributes = []
        for name, values in attrvals.items():
            name_format = NAME_FORMAT_URI if ":" in name else NAME_FORMAT_BASIC
            attributes.append(saml.Attribute(
                name=name, name_format=name_format,
                attribute_value=[saml.AttributeValue(text=str(value)) for value in values],
            ))
        return attributes


class _Server(Server):
    """pysaml2's IdP, encrypting assertions with AES-256-CBC as Entra ID and AD FS do (pysaml2 uses 3DES)."""

    def _encrypt_assertion(self, encrypt_cert: str | None, sp_entity_id: str | None, response: Any,
                           node_xpath: str | None = None) -> str:
        certs = [(None, encrypt_cert)] if encrypt_cert else self.metadata.certs(sp_entity_id, "any", "encryption")
        if not certs:
            raise ValueError(f"{sp_entity_id!r} publishes no encryption certificate.")
        cert_name, cert = certs[0]
        wrapped, unwrapped = get_pem_wrapped_unwrapped(cert)
        cert_file = make_temp(wrapped.encode("ascii"), decode=False, delete_tmpfiles=self.config.delete_tmpfiles)
        template = pre_encryption_part(msg_enc=AES256_CBC, key_name=cert_name, encrypt_cert=unwrapped)
        return self.sec.encrypt_assertion(response, cert_file.name, template, key_type="aes-256",
                                          node_xpath=node_xpath)


class _UnknownRequest(Exception):
    """The AuthnRequest cannot be answered; the message is shown on the IdP's 400 page."""


def _write_key_pair(directory: Path) -> tuple[Path, Path]:
    """A fresh RSA key and a self-signed certificate for it, as PEM files xmlsec1 can read."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SAML IdP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "idp-key.pem", directory / "idp-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _error_page(message: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>'
        f'<body><main><h1>Sign-in error</h1><p id="idp-error">{html.escape(message)}</p></main></body></html>'
    )


def _post_page(form: Mapping[str, str]) -> str:
    """The page that carries the response to the SP's ACS (HTTP-POST binding); it submits itself."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(form[name])}">'
        for name in ("SAMLResponse", "RelayState") if form.get(name) is not None
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signing you in</title></head>'
        '<body><main><h1>Signing you in</h1>'
        f'<form id="saml-post" method="post" action="{html.escape(form["action"])}">{hidden}'
        '<button type="submit">Continue</button></form></main>'
        '<script>document.getElementById("saml-post").submit();</script></body></html>'
    )


class SamlIdentityProvider:
    """pysaml2's IdP on a free loopback port, answering AuthnRequests as `answer()` says."""

    def __init__(self) -> None:
        self.url = ""
        self.entity_id = ""
        self.metadata_url = ""
        self.responses: list[str] = []
        self.last_form: dict[str, str] = {}
        self._answer = _Answer()
        self._trusted: dict[str, InMemoryMetaData] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._workdir: Path | None = None
        self._server: _Server | None = None

    # Life cycle.

    def start(self) -> Self:
        """Bind a free port, generate the signing key, and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._workdir = Path(tempfile.mkdtemp(prefix="saml-idp-"))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.entity_id = self.metadata_url = f"{self.url}/metadata"
        self._server = self._build_server()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="saml-idp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the key material; calling it twice is harmless."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _build_server(self) -> Server:
        key_path, cert_path = _write_key_pair(self._workdir)
        sso = f"{self.url}/sso"
        config = IdPConfig()
        config.load({
            "entityid": self.entity_id,
            "xmlsec_binary": XMLSEC_BINARY,
            "key_file": str(key_path),
            "cert_file": str(cert_path),
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "metadata": {},
            "service": {
                "idp": {
                    "name": "Test SAML IdP",
                    "endpoints": {
                        "single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT), (sso, BINDING_HTTP_POST)],
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                    # Unsigned requests are accepted, as Entra ID does by default (see _parse for signed ones).
                    "want_authn_requests_signed": False,
                },
            },
        })
        config.attribute_converters = [_PassThroughConverter()]
        return _Server(config=config)

    # What the tests set.

    def metadata_xml(self) -> str:
        """The IdP's EntityDescriptor: signing certificate and SSO endpoints (HTTP-Redirect and HTTP-POST)."""
        return str(entity_descriptor(self._server.config))

    def trust(self, sp_metadata_xml: str) -> None:
        """Accept AuthnRequests from the SP(s) in this metadata; an entity trusted before is replaced."""
        metadata = InMemoryMetaData(self._server.metadata.attrc, metadata=sp_metadata_xml)
        metadata.load()
        entity_ids = [entity_id for entity_id, entity in metadata.items() if entity.get("spsso_descriptor")]
        if not entity_ids:
            raise ValueError("The metadata describes no service provider (no SPSSODescriptor).")
        with self._lock:
            for entity_id in entity_ids:
                self._trusted[entity_id] = metadata
            store = self._server.metadata.metadata
            for key in [key for key in store if key.startswith("trusted:")]:
                del store[key]
            for entity_id, entity_metadata in self._trusted.items():
                store[f"trusted:{entity_id}"] = entity_metadata

    def answer(self, email: str | None = "ann@acme.example", name_id: str | None = None,
               attributes: Mapping[str, Sequence[str]] | None = None, sign_response: bool = True,
               sign_assertion: bool = True, encrypt_assertion: bool = False, audience: str | None = None,
               recipient: str | None = None, valid_seconds: int = 300) -> None:
        """Answer the next sign-ins as `email` (None: a Responder/AuthnFailed error status), as told.

        NameID is `name_id` or the email (format emailAddress when it holds an "@", persistent otherwise);
        "email" and the Entra claim URI carry the email unless `attributes` overrides them (an empty list
        leaves that attribute out, e.g. {"email": []} to send the claim URI only).
        """
        with self._lock:
            self._answer = _Answer(
                email=email, name_id=name_id, sign_response=sign_response,
                attributes={name: [values] if isinstance(values, str) else list(values)
                            for name, values in (attributes or {}).items()},
                sign_assertion=sign_assertion, encrypt_assertion=encrypt_assertion, audience=audience,
                recipient=recipient, valid_seconds=valid_seconds,
            )

    def reset(self) -> None:
        """Back to the state after start(): nobody answered, no SP trusted, nothing recorded."""
        with self._lock:
            self._answer = _Answer()
            self._trusted.clear()
            if self._server is not None:
                store = self._server.metadata.metadata
                for key in [key for key in store if key.startswith("trusted:")]:
                    del store[key]
            self.responses.clear()
            self.last_form = {}

    # The SSO endpoint.

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                params = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
                if path == "/metadata":
                    self._send(HTTPStatus.OK, idp.metadata_xml(), "application/samlmetadata+xml")
                elif path == "/sso":
                    self._sso(params, BINDING_HTTP_REDIRECT)
                else:
                    self._send(HTTPStatus.NOT_FOUND, _error_page("Not found."))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                params = {key: values[0] for key, values in parse_qs(body).items()}
                if urlsplit(self.path).path == "/sso":
                    self._sso(params, BINDING_HTTP_POST)
                else:
                    self._send(HTTPStatus.NOT_FOUND, _error_page("Not found."))

            def _sso(self, params: dict[str, str], binding: str) -> None:
                try:
                    form = idp._respond(params, binding)
                except _UnknownRequest as exc:
                    self._send(HTTPStatus.BAD_REQUEST, _error_page(str(exc)))
                else:
                    self._send(HTTPStatus.OK, _post_page(form))

            def _send(self, status: HTTPStatus, body: str, content_type: str = "text/html; charset=utf-8") -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Request lines would only clutter pytest's captured output.

        return Handler

    def _respond(self, params: Mapping[str, str], binding: str) -> dict[str, str]:
        """Parse the AuthnRequest, check its SP and ACS, and build the response form as `answer()` said."""
        if "SAMLRequest" not in params:
            raise _UnknownRequest("No SAMLRequest in the request.")
        relay_state = params.get("RelayState")
        with self._lock:
            server = self._server
            message = self._parse(params, binding, verify_redirect_signature=False)
            sp_entity_id = message.issuer.text if message.issuer is not None else None
            if sp_entity_id not in self._trusted:
                raise _UnknownRequest(f"The service provider {sp_entity_id!r} is not trusted by this IdP.")
            if binding == BINDING_HTTP_REDIRECT and "Signature" in params:
                # A request signed on the redirect binding is verified against the SP's metadata, as AD FS does.
                self._parse(params, binding, verify_redirect_signature=True)
            acs = self._acs(sp_entity_id, message)
            answer = self._answer
            if answer.encrypt_assertion and not server.metadata.certs(sp_entity_id, "any", "encryption"):
                # pysaml2 would silently send the assertion in the clear; a test asking for encryption must know.
                raise _UnknownRequest(f"encrypt_assertion=True, but {sp_entity_id!r} publishes no encryption "
                                      "certificate in its metadata.")
            destination = answer.recipient if answer.recipient is not None else acs
            if answer.email is None:
                response = server.create_error_response(
                    message.id, destination, (samlp.STATUS_AUTHN_FAILED, "The user could not be signed in."),
                    sign=answer.sign_response, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
                )
            else:
                response = self._success(server, answer, message.id, destination, sp_entity_id)
            encoded = base64.b64encode(str(response).encode("utf-8")).decode("ascii")
            form = {"action": acs, "SAMLResponse": encoded}
            if relay_state is not None:
                form["RelayState"] = relay_state
            self.responses.append(encoded)
            self.last_form = form
            return dict(form)

    def _parse(self, params: Mapping[str, str], binding: str, *, verify_redirect_signature: bool) -> Any:
        """The AuthnRequest message; pysaml2 checks a redirect signature only when it demands one, hence the flag."""
        self._server.config.setattr("idp", "want_authn_requests_signed", verify_redirect_signature)
        try:
            request = self._server.parse_authn_request(
                params["SAMLRequest"], binding, relay_state=params.get("RelayState"), sigalg=params.get("SigAlg"),
                signature=params.get("Signature"),
            )
        except Exception as exc:  # Any unreadable or badly signed request is a 400, as at a real IdP.
            raise _UnknownRequest(f"The SAML request could not be read: {exc!r}") from exc
        if request is None or request.message is None:
            raise _UnknownRequest("The SAML request could not be read.")
        return request.message

    def _acs(self, sp_entity_id: str, message: samlp.AuthnRequest) -> str:
        """The ACS to post to: the request's, if the SP's metadata registers it, else the default one."""
        services = self._server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
        if not services:
            raise _UnknownRequest(f"The service provider {sp_entity_id!r} has no HTTP-POST ACS.")
        locations = [service["location"] for service in services]
        if message.assertion_consumer_service_url:
            if message.assertion_consumer_service_url not in locations:
                raise _UnknownRequest(
                    f"The ACS {message.assertion_consumer_service_url!r} is not registered for {sp_entity_id!r}.")
            return message.assertion_consumer_service_url
        if message.assertion_consumer_service_index is not None:
            for service in services:
                if str(service.get("index")) == str(message.assertion_consumer_service_index):
                    return service["location"]
        defaults = [service["location"] for service in services if str(service.get("is_default")).lower() == "true"]
        return (defaults or locations)[0]

    def _success(self, server: Server, answer: _Answer, in_response_to: str, destination: str,
                 sp_entity_id: str) -> str:
        name_id_text = answer.name_id if answer.name_id is not None else answer.email
        name_id = saml.NameID(
            format=NAMEID_FORMAT_EMAILADDRESS if "@" in name_id_text else NAMEID_FORMAT_PERSISTENT,
            text=name_id_text,
        )
        identity = {"email": [answer.email], EMAIL_CLAIM: [answer.email]}
        identity.update(answer.attributes)
        identity = {name: values for name, values in identity.items() if values}  # [] leaves an attribute out
        policy = _AnswerPolicy(audience=answer.audience, valid_seconds=answer.valid_seconds, mds=server.metadata)
        response = server.create_authn_response(
            identity, in_response_to, destination, sp_entity_id, name_id=name_id,
            authn={"class_ref": AUTHN_CONTEXT},
            sign_response=answer.sign_response, sign_assertion=answer.sign_assertion,
            encrypt_assertion=answer.encrypt_assertion, release_policy=policy,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
        )
        return str(response)
