"""A password reset leaves its secret in no server log: checked in gunicorn's real access log.

The portal runs as docker-compose runs it: `gunicorn portal.wsgi … --access-logfile -` under the
production settings (static files collected, secure cookies, HTTPS as the proxy reports it with
X-Forwarded-Proto, the client's address in X-Forwarded-For, TRUSTED_PROXY_COUNT=1), and a real
Celery worker on Redis does the lookup and sends the mail to the suite's SMTP server. Chromium asks
for a reset, opens the mailed link — with JavaScript, where the page's script hands the code over,
and without, where the person pastes the code the mail gives — and sets the password. Then
everything gunicorn wrote (access log and error log, as `docker logs` collects them) and the worker's
log are searched for the token.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connections
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.conftest import ROOT, free_port
from tests.mail import MailServer
from tests.services import wait_for
from tests.workers import CeleryProcess, celery_env

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a fresh and rather long passphrase 42"
CLIENT = "203.0.113.9"


@dataclass
class Portal:
    url: str
    log: Path  # gunicorn's stdout and stderr: the access log ("-") and the error log
    worker: CeleryProcess

    def logs(self) -> str:
        return self.log.read_text(errors="replace") + self.worker.log.read_text(errors="replace")


def production_env(tmp_path: Path, *, url: str, broker: str, email_url: str) -> dict[str, str]:
    """The environment docker-compose gives the web service, pointed at the suite's database and services."""
    db = connections["default"].settings_dict  # NAME is the test database by now
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        # The worker runs the test settings: the same keys, so that its links are valid here.
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": broker.replace("redis://", "rediscache://", 1),  # production wants a shared cache
        "EMAIL_URL": email_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_URL": url,
        # The browser talks plain HTTP to the port; the proxy it stands for would have said https.
        "CSRF_TRUSTED_ORIGINS": url,
        "TRUST_X_FORWARDED_PROTO": "true",
        "TRUSTED_PROXY_COUNT": "1",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def portal(tmp_path, redis_url, mail_server):
    """gunicorn under the production settings, as the Dockerfile starts it, and a Celery worker."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = production_env(tmp_path, url=url, broker=redis_url, email_url=mail_server.email_url)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True, timeout=120)
    worker = CeleryProcess.worker(celery_env(redis_url=redis_url, email_url=mail_server.email_url, PORTAL_URL=url),
                                  tmp_path, "reset", concurrency=1).start()
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        gunicorn = subprocess.Popen(
            # The Dockerfile's command; without gunicorn's control socket, whose default path
            # (~/.gunicorn) another gunicorn on this machine may hold.
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--access-logfile", "-", "--no-control-socket"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: healthy(url), timeout=60, what=f"gunicorn (log: {log})", alive=lambda: gunicorn.poll() is None,
                 interval=0.2)
        yield Portal(url, log, worker)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(gunicorn.pid, signal.SIGTERM)  # gunicorn writes its log lines as it goes; this ends it
        gunicorn.wait(timeout=30)
        worker.stop()


@pytest.fixture
def behind_the_proxy(browser):
    """Chromium's requests as the portal gets them from the reverse proxy."""
    def open_context(*, javascript: bool = True):
        context = browser.new_context(java_script_enabled=javascript, extra_http_headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT,
        })
        context.set_default_timeout(20_000)
        return context

    return open_context


def ask_for_a_reset(page, portal: Portal, mail_server, email: str) -> str:
    """Ask for a reset on the portal's page; the link of the mail the worker sent."""
    page.goto(f"{portal.url}/accounts/password/reset/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-answer")).to_be_visible()
    [message] = mail_server.wait_for(1, timeout=60)
    [link] = MailServer.links(message)
    return link


def set_the_password(page, portal: Portal) -> None:
    page.wait_for_url(re.compile(r"/set-password/$"))
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{portal.url}/accounts/login/")


def secrets_of(link: str) -> list[str]:
    """The parts of a reset link that must stay out of logs: the token, and uid.token as the mail gives it."""
    code = urlsplit(link).fragment or link.rstrip("/").rsplit("/", 2)[-1]  # the earlier form: …/<uid>/<token>/
    token = code.split(".")[-1] if "." in code else code
    return [secret for secret in {code, token} if secret]


def test_the_link_with_javascript_leaves_its_token_in_no_log(portal, mail_server, behind_the_proxy):
    person = UserFactory(display_email="Gus.Gunicorn@Partner-Logs.example")
    mail_server.clear()
    page = behind_the_proxy().new_page()

    link = ask_for_a_reset(page, portal, mail_server, person.display_email)
    page.goto(link)
    set_the_password(page, portal)

    logged = portal.logs()
    assert "/accounts/password/reset/" in logged  # the log is the real one, and it has the reset in it
    assert [secret for secret in secrets_of(link) if secret in logged] == []
    assert "#" not in page.url
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


def test_the_code_pasted_without_javascript_leaves_its_token_in_no_log(portal, mail_server, behind_the_proxy):
    person = UserFactory(display_email="Nina.NoScript@Partner-Logs.example")
    mail_server.clear()
    page = behind_the_proxy(javascript=False).new_page()

    link = ask_for_a_reset(page, portal, mail_server, person.display_email)
    code = MailServer.body(mail_server.messages[0]).split("paste this one:", 1)[1].split()[0]
    page.goto(link)
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Continue").click()
    set_the_password(page, portal)

    logged = portal.logs()
    assert "POST /accounts/password/reset/link/ " in logged
    assert [secret for secret in secrets_of(link) if secret in logged] == []
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
