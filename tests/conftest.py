"""Shared fixtures: the real services the suite talks to, and the browser.

PostgreSQL and Redis are started by `make test` (scripts/test-services.sh) when they are down;
the suite refuses to run on anything but PostgreSQL. The Celery worker is a real process
started here, and Chromium is Debian's, driven by Playwright.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

# The accessibility check of every page a browser test shows, wherever the test lives (tests/browser/conftest.py).
from tests.browser.conftest import axe_audit  # noqa: F401
from tests.services import wait_for

ROOT = Path(__file__).resolve().parents[1]


def pytest_report_header(config):
    """Name the database vendor and server version the suite runs against (before any test)."""
    import psycopg2

    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'local socket'}:{db.get('PORT') or 5432}"
    try:
        # A plain connection: pytest-django blocks Django's own until a test asks for it.
        conn = psycopg2.connect(host=db.get("HOST"), port=db.get("PORT") or None, user=db.get("USER"),
                                password=db.get("PASSWORD"), dbname="postgres", connect_timeout=5)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = f"PostgreSQL {cursor.fetchone()[0]}"
        finally:
            conn.close()
    except psycopg2.Error as exc:  # the header must say why the suite will fail, not crash pytest
        version = f"unreachable ({exc})".strip()
    return [
        f"database: {connections['default'].vendor} {version} at {where}",
        f"broker: {settings.CELERY_BROKER_URL}",
    ]


def pytest_configure(config):
    if connections["default"].vendor != "postgresql":
        pytest.exit("The suite runs against PostgreSQL only: set DATABASE_URL=postgres://… (make test does).", 2)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url():
    """The Redis the suite uses (make test makes sure it runs); the test database is flushed first."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {settings.REDIS_URL} does not answer ({exc}); run the suite with `make test`.")
    client.flushdb()
    return settings.REDIS_URL


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker_process(redis_url, tmp_path, mail_server_session, live_server):
    """A real `celery worker` process consuming from Redis, on the test database.

    Tests that use it need `django_db(transaction=True)`: the worker is another process and
    only sees committed rows. Task results come back through Redis; the worker's mail goes to
    `mail_server_session` (a real SMTP server), and its links point at `live_server`.
    """
    from portal.celery import app

    db = connections["default"].settings_dict  # NAME is the test database by now
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    database_url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": mail_server_session.email_url,
        "INVITE_SEND_RETRY_BACKOFF": "1",  # SMTP retries within a second or two, not half a minute
        "PORTAL_URL": live_server.url,
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    app.conf.task_always_eager = False
    try:
        wait_for(lambda: "ready" in log.read_text(), timeout=30, what=f"the Celery worker (log: {log})",
                 alive=lambda: process.poll() is None)
        yield process
    finally:
        app.conf.task_always_eager = True
        _stop(process)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (browsers cannot be downloaded here)."""
    # Playwright's sync API runs an event loop on the test thread; Django refuses ORM calls
    # from such a thread unless told that this is intended.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium is not installed at {executable}; `make test` installs Debian's chromium.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--no-first-run", "--disable-component-update", "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def pytest_collection_modifyitems(items):
    # Browser tests are the slowest: run them last so a broken model fails fast.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def login_with_second_factor(client, user) -> None:
    """Sign `user` in on a test client as if they had given a two-factor code (the admin needs it)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def totp_code(secret: str | bytes, *, at: float | None = None) -> str:
    """The current code of an authenticator, from its key (raw bytes, or base32 as shown to people)."""
    import base64

    from django_otp.oath import TOTP

    if isinstance(secret, str):
        compact = secret.replace(" ", "").upper()
        secret = base64.b32decode(compact + "=" * (-len(compact) % 8))
    generator = TOTP(secret)
    if at is not None:
        generator.time = at
    return f"{generator.token():06d}"


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """A real OpenID Connect provider (django-oauth-toolkit) on loopback, for the whole session.

    It holds `SSO_USERS` of tests/oidc.py: alice (verified), unverified (email_verified false), alias
    (alias.alice@…, an alias address of alice's) and bob (Bob.Mixed@Partner-SSO.example, mixed case).
    Tests that need another user add one with `oidc_provider.add_user(...)` under a new username.
    """
    from tests.oidc import SSO_USERS, OidcProvider

    # DOT ignores the port of 127.0.0.1 redirect URIs (RFC 8252), so any live_server port matches.
    provider = OidcProvider(redirect_uris=("http://127.0.0.1/accounts/sso/callback/",))
    provider.start(tmp_path_factory.mktemp("oidc-idp"), SSO_USERS)
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def saml_idp():
    """A real SAML 2.0 IdP (pysaml2, tests/saml_idp.py) on loopback, started once for the session.

    It keeps what the last test told it: call `saml_idp.reset()` before use (no SP trusted, nobody answered,
    no responses recorded), then `trust(sp_metadata_xml)` and `answer(...)`.
    """
    from tests.saml_idp import SamlIdentityProvider

    with SamlIdentityProvider() as idp:
        yield idp


@pytest.fixture
def mail_server():
    """A real SMTP server (aiosmtpd) per test; `mail_server.use(settings)` sends Django's mail to it."""
    from tests.mail import MailServer

    with MailServer() as server:
        yield server


@pytest.fixture(scope="session")
def mail_server_session():
    """One SMTP server for the session, e.g. for a Celery worker started once; `clear()` it before use."""
    from tests.mail import MailServer

    with MailServer() as server:
        yield server


def invite_link_token(invite, client) -> str:
    """Open the invitation an invite's mail carried in `client`, as the link's page does (its script posts the
    code from the link's fragment, /invite/#CODE), and return the path of the acceptance page."""
    import re as _re

    from django.core import mail

    body = next(m.body for m in reversed(mail.outbox) if invite.display_email in m.to)
    code = _re.search(r"https?://[^/\s]+/invite/#([\w-]+)", body).group(1)
    client.post("/invite/", {"code": code})
    return "/invite/accept/"
