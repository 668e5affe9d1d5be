"""A software WebAuthn authenticator (ES256, attestation "none") for the passkey tests that run without a browser,
and a check that the portal's real ceremonies accept it (the browser tests use Chromium's virtual one)."""

import base64
import hashlib
import json
import os
import struct
import time

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.flow import SIGNED_IN_AT
from tests.accounts.factories import UserFactory

FLAGS_UP, FLAGS_UV, FLAGS_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on a software authenticator: answers the portal's options as a browser would pass them on."""

    def __init__(self, *, user_verified: bool = True):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle = b""
        self.sign_count = 0
        self.user_verified = user_verified

    def _flags(self, extra: int = 0) -> int:
        return FLAGS_UP | (FLAGS_UV if self.user_verified else 0) | extra

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def register(self, options: dict, *, origin: str) -> dict:
        """The JSON a browser sends back from navigator.credentials.create()."""
        self.user_handle = b64url_decode(options["user"]["id"])
        rp_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        attested = b"\0" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([self._flags(FLAGS_AT)]) + struct.pack(">I", self.sign_count) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(self.client_data("webauthn.create", options["challenge"], origin)),
                         "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {"credProps": {"rk": True}}, "authenticatorAttachment": "platform",
        }

    def assert_(self, options: dict, *, origin: str, rp_id: str | None = None) -> dict:
        """The JSON a browser sends back from navigator.credentials.get()."""
        self.sign_count += 1
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        auth_data = rp_hash + bytes([self._flags()]) + struct.pack(">I", self.sign_count)
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(self.user_handle)},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }


@pytest.mark.django_db
def test_the_software_authenticator_registers_through_the_portals_ceremony(client, settings):
    settings.PORTAL_URL = "http://localhost:8000"
    user = UserFactory()
    client.force_login(user)
    session = client.session
    session[SIGNED_IN_AT] = time.time()  # adding a passkey needs a recent sign-in
    session.save()
    options = client.post("/accounts/two-factor/passkeys/register/begin/", content_type="application/json").json()
    answer = SoftAuthenticator().register(options, origin="http://localhost:8000")
    response = client.post("/accounts/two-factor/passkeys/register/complete/", {**answer, "name": "Laptop"},
                           content_type="application/json", HTTP_HOST="localhost:8000")
    assert response.status_code == 200, response.content
    assert user.webauthncredential_set.get().name == "Laptop"
