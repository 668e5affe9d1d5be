"""Invitation tokens never reach a URL a server or proxy logs.

A real gunicorn serves the portal as the Dockerfile runs it (`gunicorn portal.wsgi --access-logfile -`,
production settings, static files collected into a manifest), with TLS of its own so that production's
secure cookies and HTTPS redirect stay on, on the suite's test database. A mail gateway's scanner opens
the invitation link, then the invited person opens it in Chromium and accepts it (or, without
JavaScript, pastes the code; or finds it expired and asks for a new one). Everything gunicorn wrote —
the access log and the error log — must hold the token nowhere. The fragment that carries it is never
sent by an HTTP client: that is the point.
"""

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.core import mail
from django.db import connections
from django.utils import timezone

from core.models import OutboundMail
from onboarding.models import Invite, InviteKind, InviteState
from onboarding.services.invites import invite_create
from partners.models import PartnerKind
from tests.conftest import ROOT, _stop, free_port
from tests.ldap_server import throwaway_ca
from tests.onboarding.invite_links import ACCEPT, OPEN, RENEW, mailed_code
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.services import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-enough-phrase-7"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Gunicorn:
    """`gunicorn portal.wsgi` under the production settings, its stdout and stderr (access and error log) in `log`."""

    def __init__(self, directory: Path, env: dict[str, str], port: int, ca_file: Path) -> None:
        self.directory, self.env, self.port, self.ca_file = directory, env, port, ca_file
        self.log = directory / "gunicorn.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        # As the Dockerfile builds the image (collectstatic) and runs it (the access log on stdout).
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True, timeout=120)
        argv = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", "2", "--access-logfile", "-",
                "--certfile", str(self.directory / "cert.pem"), "--keyfile", str(self.directory / "key.pem")]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: requests.get(f"{self.url}/healthz", verify=str(self.ca_file), timeout=2).status_code == 200,
                 timeout=60, what=f"gunicorn (log: {self.log})", alive=lambda: self.process.poll() is None,
                 interval=0.2)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def logged(self) -> str:
        """Everything gunicorn wrote, once it stopped: a worker logs a request after it answered it, so a
        running server's log may still lack the last requests."""
        self.stop()
        return self.log.read_text(errors="replace")


def production_env(directory: Path, redis_url: str, port: int) -> dict[str, str]:
    """Production's required settings, pointing at the test database (call inside a django_db test)."""
    from django.conf import settings

    db = connections["default"].settings_dict  # NAME is the test database by now
    host, db_port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "CELERY_"))}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{db_port}/{db['NAME']}",
        "CONN_MAX_AGE": "0",  # the suite empties the tables between tests: no connection may stay open
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url.replace("redis://", "rediscache://", 1),  # production wants a shared cache
        "EMAIL_URL": "smtp://127.0.0.1:9",  # the web server only records mail; workers send it
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_URL": f"https://127.0.0.1:{port}",
        "STATIC_ROOT": str(directory / "static"),
        "PORTAL_VAR_DIR": str(directory / "var"),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",  # as the Dockerfile sets it
    }


@pytest.fixture
def gunicorn(tmp_path, redis_url):
    ca = throwaway_ca()
    cert, key = ca.issue_server_certificate(ips=("127.0.0.1",))
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "ca.pem").write_text(ca.pem)
    port = free_port()
    server = Gunicorn(tmp_path, production_env(tmp_path, redis_url, port), port, tmp_path / "ca.pem")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        _purge(redis_url)


def _purge(redis_url: str) -> None:
    # The portal queued its mail for workers this test never started: no later test's worker may find it.
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("celery")
    client.close()


def invited(server: Gunicorn, settings, email: str) -> tuple[Invite, str]:
    """A reseller's person with a welcome invitation mailed (in this process, eagerly); (invite, mailed link)."""
    settings.PORTAL_URL = server.url
    partner = PartnerFactory(kind=PartnerKind.RESELLER, name="Resell Co")
    AgreementFactory(partner=partner)
    invite = invite_create(partner=partner, email=email, name="Rosa Rot", kind=InviteKind.WELCOME)
    body = next(m.body for m in mail.outbox if m.to == [email])
    [link] = [url for url in re.findall(r"https://\S+", body) if "#" in url]
    assert link == f"{server.url}{OPEN}#{mailed_code(body)}"
    return invite, link


def scanner_opens(server: Gunicorn, link: str) -> None:
    """A mail gateway's link scanner: fetches the link (its fragment is not sent), follows what it is told."""
    response = requests.get(link, verify=str(server.ca_file), timeout=10)
    assert response.status_code == 200
    assert mailed_code(link) not in response.text


def browser_like_session(server: Gunicorn) -> requests.Session:
    """A client that keeps cookies and trusts the server's CA (and nothing from the environment)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_file)
    return session


def assert_token_nowhere_logged(server: Gunicorn, token: str, *paths: str) -> None:
    logged = server.logged()
    for path in paths:  # the log does record the requests: a silent log would prove nothing
        assert re.search(rf'"(GET|POST) {re.escape(path)} HTTP/1\.1" (200|302|410)', logged), (path, logged)
    assert token not in logged


@pytest.mark.browser
def test_a_scanner_then_the_person_in_a_browser_accept_with_the_token_nowhere_in_the_access_log(
    gunicorn, browser, settings
):
    invite, link = invited(gunicorn, settings, "rosa@resell.example")
    token = mailed_code(link)
    scanner_opens(gunicorn, link)
    assert Invite.objects.get(pk=invite.pk).state == InviteState.SENT  # opening consumed nothing

    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(link)
        page.wait_for_url(f"{gunicorn.url}{ACCEPT}")  # the page's script posted the code and was redirected
        page.go_back()
        # No history entry holds the code: the script took it out of the address bar (and Chromium replaces
        # the entry of a page that submits a form while it loads).
        assert token not in page.url and "#" not in page.url
        page.goto(f"{gunicorn.url}{ACCEPT}")  # this browser remembers the invitation it opened
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        page.get_by_role("button", name="Accept and set password").click()
        page.wait_for_url(lambda url: ACCEPT not in url)
    finally:
        context.close()

    invite.refresh_from_db()
    assert invite.state == InviteState.ACCEPTED
    # The person's mailbox hears of it: a durable notification recorded by the web server.
    assert OutboundMail.objects.filter(to="rosa@resell.example", template="invite_accepted").count() == 1
    assert_token_nowhere_logged(gunicorn, token, OPEN, ACCEPT)


def test_without_javascript_the_pasted_code_accepts_with_the_token_nowhere_in_the_access_log(gunicorn, settings):
    invite, link = invited(gunicorn, settings, "rosa@resell.example")
    token = mailed_code(link)
    scanner_opens(gunicorn, link)
    person = browser_like_session(gunicorn)
    entry = person.get(f"{gunicorn.url}{OPEN}", timeout=10)
    # A browser sends its Origin or Referer with a form: production's CSRF check over HTTPS wants one.
    headers = {"Referer": entry.url}
    page = person.post(entry.url, data={"code": token, "csrfmiddlewaretoken": _CSRF.search(entry.text).group(1)},
                       headers=headers, timeout=10)
    assert page.url == f"{gunicorn.url}{ACCEPT}" and "Accept and set password" in page.text
    accepted = person.post(page.url, headers={"Referer": page.url}, timeout=10, allow_redirects=False, data={
        "password": PASSWORD, "password2": PASSWORD, "csrfmiddlewaretoken": _CSRF.search(page.text).group(1)})
    assert accepted.status_code == 302
    assert Invite.objects.get(pk=invite.pk).state == InviteState.ACCEPTED
    assert_token_nowhere_logged(gunicorn, token, OPEN, ACCEPT)


def test_an_expired_link_asks_for_a_new_invitation_with_the_token_nowhere_in_the_access_log(gunicorn, settings):
    invite, link = invited(gunicorn, settings, "rosa@resell.example")
    token = mailed_code(link)
    Invite.objects.filter(pk=invite.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=9), expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    person = browser_like_session(gunicorn)
    entry = person.get(link, timeout=10)
    # Browsers never put a fragment in a Referer (requests keeps it in Response.url).
    expired = person.post(f"{gunicorn.url}{OPEN}", headers={"Referer": f"{gunicorn.url}{OPEN}"}, timeout=10,
                          data={"code": token, "csrfmiddlewaretoken": _CSRF.search(entry.text).group(1)})
    assert expired.status_code == 410 and "Ask for a new invitation" in expired.text
    asked = person.post(f"{gunicorn.url}{RENEW}", headers={"Referer": expired.url}, timeout=10,
                        data={"csrfmiddlewaretoken": _CSRF.search(expired.text).group(1)})
    assert asked.status_code == 200
    assert Invite.objects.get(pk=invite.pk).renewal_requested_at is not None
    assert_token_nowhere_logged(gunicorn, token, OPEN, ACCEPT, RENEW)
