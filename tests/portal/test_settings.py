"""Production settings: refuse to start without secrets, and pass Django's deployment checks."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "SECRET_KEY": "p" * 20 + "-production-secret-key-for-the-test-" + "q" * 20,
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://127.0.0.1:25",
    "ALLOWED_HOSTS": "portal.example.com",
    "CACHE_URL": "rediscache://127.0.0.1:6379/2",
}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.endswith("_FILE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_check_deploy_reports_no_issues():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    # The one silenced check is axes.W006 (no per-IP lockout parameter): clients are throttled by
    # accounts.lockout instead, with their own, higher limit (SIGNIN_CLIENT_FAILURE_LIMIT).
    assert "System check identified no issues (1 silenced)." in result.stdout


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_each_required_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Production settings need these environment variables" in result.stderr
    assert missing in result.stderr


@pytest.mark.parametrize("cache_url", ["locmemcache://", "dummycache://"])
def test_production_refuses_a_cache_each_process_keeps_to_itself(cache_url):
    result = manage("check", env={**PRODUCTION_ENV, "CACHE_URL": cache_url})
    assert result.returncode != 0
    assert "CACHE_URL must name a cache every process of the portal shares" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    (tmp_path / "secret_key").write_text(PRODUCTION_ENV["SECRET_KEY"] + "\n")
    (tmp_path / "field_key").write_text(PRODUCTION_ENV["FIELD_ENCRYPTION_KEY"])
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")}
    env |= {"SECRET_KEY_FILE": str(tmp_path / "secret_key"), "FIELD_ENCRYPTION_KEY_FILE": str(tmp_path / "field_key")}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr


def test_production_cookies_are_secure_and_http_only():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE, s.DEBUG, "
        "s.PASSWORD_HASHERS[0].rsplit('.', 1)[1])"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "False", "Argon2PasswordHasher"]


def test_the_embedded_default_writes_mail_to_an_absolute_folder_under_var(tmp_path):
    code = "from django.conf import settings as s; print(s.EMAIL_BACKEND.rsplit('.', 2)[1], s.EMAIL_FILE_PATH)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE_URL"))},
             "DJANGO_SETTINGS_MODULE": "portal.settings.local", "PORTAL_VAR_DIR": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["filebased", str(tmp_path / "mail")]


def test_duration_filter_reads_like_people_write():
    import datetime

    from core.templatetags.portal_tags import duration

    assert duration(datetime.timedelta(days=3, hours=4, minutes=5)) == "3 days 4 hours"
    assert duration(datetime.timedelta(seconds=40)) == "40 seconds"
    assert duration(datetime.timedelta(0)) == "0 seconds"


def embedded(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Run `code` under the embedded default's settings (DEBUG on), with var/ in tmp_path."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE_URL", "PRIVATE_"))},
             "DJANGO_SETTINGS_MODULE": "portal.settings.local", "PORTAL_VAR_DIR": str(tmp_path), **env},
        timeout=60,
    )


def test_the_embedded_default_keeps_agreements_under_var_private_and_serves_no_media(tmp_path):
    code = (
        "from django.conf import settings as s; from django.urls import Resolver404, resolve\n"
        "try:\n    resolve('/media/agreements/2026/northwind.pdf'); print('served')\n"
        "except Resolver404:\n    print('404')\n"
        "print(s.DEBUG, s.PRIVATE_MEDIA_ROOT)"
    )
    result = embedded(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["404", "True", str(tmp_path / "private")]


def test_production_reads_the_private_media_root_and_sends_the_policies(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.PRIVATE_MEDIA_ROOT, s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'], "
        "s.PERMISSIONS_POLICY['camera'], 'portal.middleware.NoStoreWhenSignedInMiddleware' in s.MIDDLEWARE)"
    )
    result = manage("shell", "--no-imports", "-c", code, env={**PRODUCTION_ENV, "PRIVATE_MEDIA_ROOT": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path), "[\"'self'\"]", "[]", "True"]


def test_production_refuses_private_media_inside_the_static_files(tmp_path):
    static = tmp_path / "static"
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(static), "PRIVATE_MEDIA_ROOT": str(static / "agreements")}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "partners.E001" in result.stderr
