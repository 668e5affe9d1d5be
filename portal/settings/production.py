"""Production: PostgreSQL, Redis, SMTP; refuses to start without its secrets."""

from django.core.exceptions import ImproperlyConfigured

from portal.settings.base import *  # noqa: F403
from portal.settings.base import env, secret

DEBUG = False

_required = {
    "SECRET_KEY": secret("SECRET_KEY"),
    "FIELD_ENCRYPTION_KEY": secret("FIELD_ENCRYPTION_KEY"),
    "DATABASE_URL": env.str("DATABASE_URL", default=""),
    "CELERY_BROKER_URL": env.str("CELERY_BROKER_URL", default=""),
    "EMAIL_URL": env.str("EMAIL_URL", default=""),
    "ALLOWED_HOSTS": env.str("ALLOWED_HOSTS", default=""),
    # Every web process must see the same cache: the API's rate limits and SAML's outstanding requests and
    # used assertions are kept there (a per-process cache would fail sign-ins at random and forget replays).
    "CACHE_URL": env.str("CACHE_URL", default=""),
}
_missing = sorted(name for name, value in _required.items() if not value)
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables (or NAME_FILE for secrets): "
        + ", ".join(_missing)
    )
if CACHES["default"]["BACKEND"].rsplit(".", 1)[-1] in ("LocMemCache", "DummyCache"):  # noqa: F405
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache every process of the portal shares (rediscache://…, memcache://…), "
        "not a per-process one"
    )

# ---------------------------------------------------------------------------
# HTTPS: the portal sits behind a TLS-terminating proxy or load balancer.
# ---------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The health probe is made over plain HTTP from inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-portal_session"
CSRF_COOKIE_NAME = "__Host-portal_csrftoken"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
