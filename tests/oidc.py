"""A real OpenID Connect provider for sign-in tests: the Django project in tests/oidc_idp, run as a subprocess.

The provider is django-oauth-toolkit with OIDC on (RS256 ID tokens, PKCE required, a confidential client with
`skip_authorization`), its state (SQLite, signing key) in a directory of the caller's choosing:

    provider = OidcProvider().start(tmp_path / "idp", SSO_USERS)
    provider.issuer               # http://127.0.0.1:PORT/o
    provider.discovery            # the parsed /o/.well-known/openid-configuration
    provider.add_user(username="carol", password="carol-pass", email="carol@example.test")
    provider.stop()

It is its own Django project (cwd tests/oidc_idp, DJANGO_SETTINGS_MODULE=idp.settings), never imported by the
suite: the portal's settings and the IdP's cannot share a process. Its log is `<workdir>/idp.log`.

`login_with_requests()` signs in through the IdP's login form with a `requests.Session`, for flows driven
without a browser.
"""

from __future__ import annotations

import atexit
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin

import requests

from tests.conftest import _stop, free_port
from tests.services import wait_for

IDP_PROJECT = Path(__file__).resolve().parent / "oidc_idp"
# DOT ignores the port of http://127.0.0.1 redirect URIs (RFC 8252 7.3): one registration matches whatever
# port live_server picks. The host must be the IP, not "localhost" (pytest runs with --liveserver=127.0.0.1).
DEFAULT_REDIRECT_URI = "http://127.0.0.1/oidc/callback/"
DEFAULT_CLIENT_ID = "portal"
DEFAULT_CLIENT_SECRET = "portal-secret"
START_TIMEOUT = 60.0
BOOTSTRAP_TIMEOUT = 120.0
PORT_ATTEMPTS = 3

# The users of the partner SSO domain the sign-in tests rely on: verified, unverified, an alias address of
# alice's, and an address written in mixed case (the portal must match it case-insensitively).
SSO_USERS: list[dict[str, Any]] = [
    {"username": "alice", "password": "alice-pass", "email": "alice@partner-sso.example",
     "email_verified": True, "given_name": "Alice", "family_name": "Partner"},
    {"username": "unverified", "password": "unverified-pass", "email": "unverified@partner-sso.example",
     "email_verified": False, "given_name": "Una", "family_name": "Verified"},
    {"username": "alias", "password": "alias-pass", "email": "alias.alice@partner-sso.example",
     "email_verified": True, "given_name": "Alias", "family_name": "Alice"},
    {"username": "bob", "password": "bob-pass", "email": "Bob.Mixed@Partner-SSO.example",
     "email_verified": True, "given_name": "Bob", "family_name": "Mixed"},
]

# Providers started and not yet stopped: an interrupted run must not leave runservers behind.
_RUNNING: set[OidcProvider] = set()


@atexit.register
def _stop_leftovers() -> None:
    for provider in list(_RUNNING):
        provider.stop()


class OidcProviderError(RuntimeError):
    """The IdP could not be bootstrapped or started; the message carries its output."""


class _PortTaken(OidcProviderError):
    """Another process bound the free port between our probe and runserver's bind."""


class OidcProvider:
    """One throwaway OpenID Connect provider process on 127.0.0.1."""

    def __init__(self, *, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 redirect_uris: Iterable[str] = (DEFAULT_REDIRECT_URI,)) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.workdir: Path | None = None
        self.users: list[dict[str, Any]] = []
        self.port: int | None = None
        self.issuer: str = ""
        self.discovery: dict[str, Any] = {}
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, workdir: Path, users: Iterable[Mapping[str, Any]], *, port: int | None = None) -> Self:
        """Bootstrap the database in `workdir`, serve on `port` (a free one by default), wait for discovery."""
        if self.process is not None:
            raise OidcProviderError(f"the IdP already runs on port {self.port}")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.users = [dict(user) for user in users]
        # Bootstrap and the server start side by side (the server needs the database only once a test signs
        # in, by which time start() has returned): the IdP is ready in about the time of one of them.
        bootstrap = self._start_bootstrap()
        try:
            attempts = 1 if port is not None else PORT_ATTEMPTS
            for attempt in range(1, attempts + 1):
                try:
                    self._serve(port or free_port())
                    break
                except _PortTaken:
                    if attempt == attempts:
                        raise
            self._finish_bootstrap(bootstrap)
        except BaseException:
            _stop(bootstrap)
            self.stop()
            raise
        _RUNNING.add(self)
        return self

    def stop(self) -> None:
        """Stop the server (idempotent). The state directory stays for post-mortems."""
        if self.process is not None:
            _stop(self.process)
            self.process = None
        _RUNNING.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- users -----------------------------------------------------------------------------------------------

    def add_user(self, username: str, *, password: str, email: str, email_verified: bool = True,
                 given_name: str = "", family_name: str = "") -> dict[str, Any]:
        """Add a user to the running IdP, or update the one with this username (email, claims, password).

        The server reads users from its database on every sign-in, so no restart is needed. The provider is
        shared by a session: prefer new usernames over changing the ones in `SSO_USERS`.
        """
        if self.workdir is None:
            raise OidcProviderError("start() the IdP before adding users")
        spec = {"username": username, "password": password, "email": email, "email_verified": email_verified,
                "given_name": given_name, "family_name": family_name}
        self.users = [user for user in self.users if user["username"] != username] + [spec]
        self._bootstrap()
        return spec

    def user(self, username: str) -> dict[str, Any]:
        """The spec (password, email, claims) the IdP holds for `username`."""
        for user in self.users:
            if user["username"] == username:
                return user
        raise KeyError(username)

    # -- endpoints, from the discovery document ---------------------------------------------------------------

    @property
    def authorization_endpoint(self) -> str:
        return self.discovery["authorization_endpoint"]

    @property
    def token_endpoint(self) -> str:
        return self.discovery["token_endpoint"]

    @property
    def userinfo_endpoint(self) -> str:
        return self.discovery["userinfo_endpoint"]

    @property
    def jwks_uri(self) -> str:
        return self.discovery["jwks_uri"]

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "start() the IdP first"
        return self.workdir / "idp.log"

    # -- internals -------------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        assert self.workdir is not None
        return {
            **os.environ,
            # pytest-django exported the portal's settings module; the IdP needs its own.
            "DJANGO_SETTINGS_MODULE": "idp.settings",
            "IDP_DIR": str(self.workdir / "state"),
            "IDP_USERS": str(self.workdir / "users.json"),
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_REDIRECT_URIS": " ".join(self.redirect_uris),
            # The log is read while the server runs (port clash, tracebacks): no block buffering.
            "PYTHONUNBUFFERED": "1",
        }

    def _bootstrap(self) -> None:
        self._finish_bootstrap(self._start_bootstrap())

    def _start_bootstrap(self) -> subprocess.Popen[str]:
        assert self.workdir is not None
        (self.workdir / "users.json").write_text(json.dumps(self.users, indent=2))
        return subprocess.Popen(
            [sys.executable, "-m", "idp.bootstrap"], cwd=IDP_PROJECT, env=self._env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def _finish_bootstrap(self, process: subprocess.Popen[str]) -> None:
        assert self.workdir is not None
        try:
            output, _ = process.communicate(timeout=BOOTSTRAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise OidcProviderError(f"IdP bootstrap did not finish within {BOOTSTRAP_TIMEOUT} s") from None
        with open(self.workdir / "bootstrap.log", "a") as log:
            log.write(output)
        if process.returncode:
            raise OidcProviderError(f"IdP bootstrap failed ({process.returncode}):\n{output}")

    def _serve(self, port: int) -> None:
        issuer = f"http://127.0.0.1:{port}/o"
        discovery_url = f"{issuer}/.well-known/openid-configuration"
        with open(self.log_path, "wb") as log:
            # --skip-checks: bootstrap already loaded the project; the checks would only slow every start.
            process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
                cwd=IDP_PROJECT, env=self._env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            wait_for(lambda: requests.get(discovery_url, timeout=2).status_code == 200, timeout=START_TIMEOUT,
                     what=f"the OIDC provider on port {port}", alive=lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            _stop(process)
            output = self.log_path.read_text(errors="replace")
            error = _PortTaken if "already in use" in output else OidcProviderError
            raise error(f"{exc}; its log ({self.log_path}):\n{output[-4000:]}") from exc
        self.process, self.port, self.issuer = process, port, issuer
        self.discovery = requests.get(discovery_url, timeout=10).json()
        if self.discovery.get("issuer") != issuer:
            self.stop()
            raise OidcProviderError(f"discovery names issuer {self.discovery.get('issuer')!r}, expected {issuer!r}")


_FORM_ACTION = re.compile(r'<form[^>]*\baction="([^"]*)"', re.IGNORECASE)
_CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_NEXT = re.compile(r'name="next" value="([^"]*)"')


def login_with_requests(session: requests.Session, authorize_url_response: requests.Response, username: str,
                        password: str, *, stop_at: str | None = None, timeout: float = 10) -> requests.Response:
    """Sign in on the IdP login page `authorize_url_response` shows and follow the redirects that come back.

    `authorize_url_response` is the response to GETting an authorize URL (the portal's `/oidc/authenticate/`
    or the IdP's `/o/authorize/?…`) with redirects followed: the IdP's login form. The form is posted with
    its CSRF token and `next` (the authorize request), on the session, so the IdP cookies stay with it.

    By default every redirect is followed (to the portal's callback and on). With `stop_at`, a URL prefix,
    following stops at the first redirect whose target starts with it and that redirect response is
    returned, its `Location` holding `code`/`state` or `error`: for a bare OAuth client whose redirect URI
    serves nothing. A wrong password gives the login form again (status 200, `id="idp-error"`).
    """
    page = authorize_url_response
    csrf, next_url = _CSRF_TOKEN.search(page.text), _NEXT.search(page.text)
    if page.status_code != 200 or csrf is None or next_url is None:
        raise AssertionError(f"expected the IdP login form, got HTTP {page.status_code} at {page.url}")
    action = _FORM_ACTION.search(page.text)
    login_url = urljoin(page.url, html.unescape(action.group(1))) if action and action.group(1) else page.url
    data = {"username": username, "password": password, "csrfmiddlewaretoken": csrf.group(1),
            "next": html.unescape(next_url.group(1))}
    if stop_at is None:
        return session.post(login_url, data=data, timeout=timeout)

    response = session.post(login_url, data=data, allow_redirects=False, timeout=timeout)
    history: list[requests.Response] = []
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if target.startswith(stop_at):
            break
        history.append(response)
        response = session.get(target, allow_redirects=False, timeout=timeout)
    response.history = history
    return response
