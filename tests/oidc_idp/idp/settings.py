"""Settings of the test OpenID Connect provider: django-oauth-toolkit (DOT) with OIDC, RS256 and PKCE.

All state lives in `$IDP_DIR` (the SQLite database and the RSA signing key), so every test session gets a
fresh provider. The listen address is chosen by `manage.py runserver 127.0.0.1:PORT`; the issuer is derived
from the request (`http://127.0.0.1:PORT/o`).
"""

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BASE_DIR = Path(__file__).resolve().parent
IDP_DIR = Path(os.environ.get("IDP_DIR") or Path(tempfile.gettempdir()) / "portal-test-oidc-idp")
IDP_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "test-only-idp-secret-key-not-for-production-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oauth2_provider",
    "idp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "idp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": IDP_DIR / "idp.sqlite3",
        # WAL: a re-run of bootstrap (add_user) does not block the running server's reads.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;"},
    },
}
# A throwaway database needs no migration history: `migrate --run-syncdb` creates the tables straight from
# the models in ~0.1 s, where replaying the ~40 migrations of auth and DOT takes ~2.5 s on every IdP start.
MIGRATION_MODULES = {app.rsplit(".", 1)[-1]: None for app in INSTALLED_APPS}
USE_TZ = True
LOGIN_URL = "/accounts/login/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Fast and good enough for throwaway test accounts; the portal's own hashing is not under test here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The IdP and the portal both run on 127.0.0.1 (different ports), and cookies are not separated by port:
# with Django's default names each would overwrite the other's session and CSRF cookie.
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"

# One RS256 key per state dir, made by the first process that loads these settings. tests/oidc.py starts
# bootstrap and the server at the same time, so creation is atomic (link fails if the file exists): both
# processes end up with the same key, and tokens stay verifiable against the JWKS.
_KEY_FILE = IDP_DIR / "oidc_rsa.pem"
if not _KEY_FILE.exists():
    _new_key = IDP_DIR / f"oidc_rsa.pem.{os.getpid()}"
    _new_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with contextlib.suppress(FileExistsError):
        os.link(_new_key, _KEY_FILE)
    _new_key.unlink()

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _KEY_FILE.read_text(),
    "OAUTH2_VALIDATOR_CLASS": "idp.validators.ClaimsValidator",
    "SCOPES": {"openid": "OpenID Connect", "email": "Email address", "profile": "Profile"},
    "PKCE_REQUIRED": True,  # the portal must send an S256 code_challenge, as real providers increasingly demand
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
}

# With DEBUG off Django logs request errors nowhere visible by default; send them to runserver's stderr,
# which tests/oidc.py writes to <workdir>/idp.log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "oauth2_provider": {"handlers": ["console"], "level": os.environ.get("IDP_LOG", "WARNING")},
    },
}
