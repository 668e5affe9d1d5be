"""Settings shared by every environment; the environment-specific modules import * from here."""

import datetime
import shutil
import urllib.parse
from pathlib import Path

from csp.constants import NONE, SELF, UNSAFE_INLINE

from portal.settings.env import BASE_DIR, env, secret

VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute address of the portal, used to build links in mail (invites, resets).
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
# The languages the portal ships complete (locale/ and each app's locale/); a person chooses one on their
# security page, and until then (and before sign-in) the browser's Accept-Language picks among them.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# A signed-out visitor's choice from the footer's language switch, kept for a year.
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

INSTALLED_APPS = [
    "portal.admin_config.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "django_celery_beat",
    "axes",
    "rest_framework",
    "drf_spectacular",
    # The portal's own apps, bottom layer first: each imports only from the ones before it.
    "core",
    "partners",
    "directory_sync",
    "accounts",
    "onboarding",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files (an SVG among them) carry the policies too.
    "portal.middleware.PortalCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language, or the footer's choice) until the person is known.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after the user is known: every answer to a signed-in person, redirects and errors included.
    "portal.middleware.NoStoreWhenSignedInMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: a timed-out session is signed out with a message saying why.
    "accounts.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.TwoFactorEnforcementMiddleware",
    # Once the person is known: their pages (and the admin) show times in their own zone, in their language.
    "accounts.middleware.TimeZoneMiddleware",
    "accounts.middleware.LanguageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a lockout flagged during authentication into the sign-in page's lockout answer.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.agreement_block",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if secret("DATABASE_PASSWORD"):
    # DATABASE_PASSWORD(_FILE) keeps the password out of the URL (container secrets).
    DATABASES["default"]["PASSWORD"] = secret("DATABASE_PASSWORD")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has a web server, a worker and beat writing to one file:
    # WAL lets readers and one writer overlap, IMMEDIATE takes the write lock up front
    # (no deadlocked upgrades), and the timeout waits for the lock instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Each backend handles the people of the accounts using its method and returns None for the
# others; axes goes first so that a locked-out address never reaches a password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.CloudPasswordBackend",
    "accounts.backends.DomainPasswordBackend",
    "accounts.backends.AccountOIDCBackend",
    "accounts.backends.AccountSAMLBackend",
]

# Password reset links: single use (Django's token changes with the password) and short-lived.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)

# Reverse proxies in front of the portal that append the address they were reached from to
# X-Forwarded-For (docker-compose's layout: one). 0 means REMOTE_ADDR is the client's own address (the
# embedded server); the header is then ignored, since any client can send one (core.clients).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Brute force (django-axes): five failures lock the address being signed in to for 15 minutes;
# a client (IP address) is throttled separately, only after many more failures, so that a shared
# address (an office, the proxy) never locks out someone else's right password (accounts.lockout).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
SIGNIN_CLIENT_FAILURE_LIMIT = env.int("SIGNIN_CLIENT_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_HANDLER = "accounts.lockout.PortalAxesHandler"
AXES_CLIENT_IP_CALLABLE = "core.clients.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.services.signin.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.views.signin.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Every sign-in is an audit event already: axes' access log would only add a write to each one.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# axes.W006 warns that counting per address alone lets a client rotate its User-Agent; the client is
# throttled per IP address by accounts.lockout, which axes' check cannot see.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Two-factor (django-otp). Vendor staff always need it; partners per their account's policy. The
# devices are accounts' own (key encrypted, backup codes hashed); otp_totp and otp_static stay
# installed only as the source of the migration that moved their rows (accounts 0005).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Partner Portal")
OTP_BACKUP_CODES = 10

# Passkeys and security keys (WebAuthn, django-otp-webauthn on py_webauthn) as a second factor, and for
# passwordless sign-in of cloud-password accounts. The relying party is the host of PORTAL_URL, worked
# out per request (accounts.services.passkeys), so a changed PORTAL_URL (a test's live server) is followed.
# Browsers refuse IP addresses as relying party: for a loopback PORTAL_URL (`make run`) it is "localhost",
# and the portal must be opened at http://localhost:<port> to use passkeys.
OTP_WEBAUTHN_RP_NAME = env.str("OTP_WEBAUTHN_RP_NAME", default="Partner Portal")
OTP_WEBAUTHN_RP_ID_CALLABLE = "accounts.services.passkeys.relying_party_id"
OTP_WEBAUTHN_HELPER_CLASS = "accounts.services.passkeys.PortalWebAuthnHelper"
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = True
# Read by the package's system check only (the helper works the origins out per request, the same way): where
# passkeys can work, PORTAL_URL's origin, or http://localhost:<port> for a loopback IP address.
_portal = urllib.parse.urlsplit(PORTAL_URL)
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    f"http://localhost:{_portal.port or 80}" if _portal.hostname in ("127.0.0.1", "::1") else PORTAL_URL
]
# otp_webauthn.E031 refuses plain-http origins other than localhost: an installation on a LAN name
# (http://portal.lan:8000) runs without passkeys (browsers offer WebAuthn on secure origins only).
if not OTP_WEBAUTHN_ALLOWED_ORIGINS[0].startswith(("https://", "http://localhost")):
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "otp_webauthn.E031"]
# Account managers and admins: True makes their second factor a passkey or security key only.
VENDOR_STAFF_PHISHING_RESISTANT = env.bool("VENDOR_STAFF_PHISHING_RESISTANT", default=False)

# OpenID Connect (mozilla-django-oidc): settings per account come from AccountSettings; these
# are the fixed parts of the flow.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_CREATE_USER = False
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:sso_callback"
OIDC_VERIFY_SSL = env.bool("OIDC_VERIFY_SSL", default=True)

# SAML 2.0 (pysaml2, signatures through xmlsec1): settings per account come from AccountSettings;
# these are the fixed parts. An AuthnRequest, its answer and the answered assertions are kept in
# the cache, which must be shared by every web process (CACHE_URL=redis://... in production).
SAML_XMLSEC_BINARY = env.str("SAML_XMLSEC_BINARY", default=shutil.which("xmlsec1") or "/usr/bin/xmlsec1")
SAML_CLOCK_SKEW_SECONDS = env.int("SAML_CLOCK_SKEW_SECONDS", default=60)
SAML_REQUEST_SECONDS = 10 * 60  # how long the person may take at the identity provider
SAML_METADATA_TIMEOUT = env.int("SAML_METADATA_TIMEOUT", default=10)
SAML_METADATA_MAX_BYTES = 5 * 1024 * 1024  # a single provider's metadata is a few kilobytes
SAML_METADATA_ALLOW_HTTP = env.bool("SAML_METADATA_ALLOW_HTTP", default=False)  # tests: a provider on loopback

# Argon2id with OWASP's m=19456 (19 MiB), t=2, p=1 (accounts.hashers: about 25 ms of CPU per check, where
# Django's 100 MiB and 8 lanes cost about 280 ms); hashes of other parameters or of PBKDF2 are redone at
# the person's next sign-in. A system check refuses values below OWASP's minimum.
ARGON2_MEMORY_COST_KIB = env.int("ARGON2_MEMORY_COST_KIB", default=19456)
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_PARALLELISM = env.int("ARGON2_PARALLELISM", default=1)
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------------------
# Sessions, cookies and security headers
# ---------------------------------------------------------------------------
# Database sessions without a look-up before each new key and each delete (two queries of every sign-in).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)  # absolute lifetime
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)  # signed out after this much inactivity
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts only from the portal's own static files (no inline
# script, no event handler attributes, no eval), nothing embedded, never framed, forms post back here.
# The Django admin and django-otp's admin pages load only their own static files, so one policy fits all.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Style attributes (not <style> elements): the onboarding funnel's bars carry their computed
        # width, and the admin's directory-connection buttons their layout. They cannot run script.
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Pages whose form may go on, through the portal's redirects, to a partner's single sign-on provider
# (the email step with enforced SSO, an invite accepted with SSO): browsers check form-action on every
# redirect of a form post, and the provider is not known when the page is drawn, so these pages go
# without form-action (portal.middleware.PortalCSPMiddleware). Empty it once those flows reach the
# provider from a link instead of from a form post.
SSO_HANDOFF_VIEWS = ["accounts:login", "onboarding:invite_accept"]
# Permissions-Policy (django-permissions-policy): the portal uses no device, sensor or payment API,
# so no page of it (nor anything injected into one) may ask for them.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture",
        "encrypted-media", "fullscreen", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer",
        "microphone", "midi", "payment", "picture-in-picture", "screen-wake-lock", "serial", "usb",
        "xr-spatial-tracking",
    )
}

# Secrets at rest (LDAP bind passwords, OIDC client secrets) are encrypted with Fernet.
# A comma-separated list: the first key encrypts, all of them decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = [k.strip() for k in (secret("FIELD_ENCRYPTION_KEY") or "").split(",") if k.strip()]

# ---------------------------------------------------------------------------
# Static and uploaded files
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# No URL serves uploads. MEDIA_ROOT is only where agreement documents were kept before they moved to
# PRIVATE_MEDIA_ROOT (partners' migration 0002 moves them); they are downloaded through
# partners:agreement_document, which checks who asks. Keep PRIVATE_MEDIA_ROOT out of STATIC_ROOT and
# of any folder a web server publishes (a system check refuses the obvious overlaps).
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
PRIVATE_MEDIA_ROOT = env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads go to a temporary file, not memory
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # a request body's non-file fields (refused above it)
# The request form of a full list: 1,000 rows of name and email, plus its management fields, note and CSRF token
# (onboarding.services.requests.MAX_ROWS). Every other form stays far below; Django's default is 1,000.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2_100
# Uploads are refused by size before they are read, and read row by row up to the row limit.
REQUEST_LIST_MAX_BYTES = env.int("REQUEST_LIST_MAX_BYTES", default=1024 * 1024)
DIRECTORY_CSV_MAX_BYTES = env.int("DIRECTORY_CSV_MAX_BYTES", default=50 * 1024 * 1024)
DIRECTORY_CSV_MAX_ROWS = env.int("DIRECTORY_CSV_MAX_ROWS", default=200_000)

# ---------------------------------------------------------------------------
# REST API (/api/v1/, Django REST framework; the schema by drf-spectacular)
# ---------------------------------------------------------------------------
# The cache the API's rate limits count in: one shared by every process in production (CACHE_URL=redis://…).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
API_IDEMPOTENCY_HOURS = 24  # how long an Idempotency-Key's answer is replayed
API_MAX_BODY_BYTES = 8 * 1024 * 1024  # the largest creating POST the API reads (a list's CSV is far smaller)
REST_FRAMEWORK = {
    # Tokens only: the pages' session cookie never authenticates an API call (no CSRF question arises).
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.authentication.TokenScope"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("API_RATE", default="600/minute")},
    "EXCEPTION_HANDLER": "core.api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner Portal API",
    "DESCRIPTION": "Partner automation: lists, people, invites, the directory, the audit trail. Authenticate with "
                   "`Authorization: Bearer <token>` (make a token on your Security page).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Fields named alike with different values (a list item's state, an invite's): one enum each, by model.
    "ENUM_NAME_OVERRIDES": {
        "ItemStateEnum": "onboarding.models.ItemState",
        "InviteStateEnum": "onboarding.models.InviteState",
    },
}

# ---------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:25, smtp+tls://…:587, smtp+ssl://…:465,
# filemail:///path/to/dir, consolemail://
# Sets EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS/SSL, EMAIL_HOST_USER/PASSWORD or EMAIL_FILE_PATH.
_email_url = env.str("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail'}")
globals().update(env.email_url_config(_email_url))
if _email_url.startswith("filemail://"):
    # django-environ drops the leading slash of an absolute path; the URL's path is what was meant.
    EMAIL_FILE_PATH = urllib.parse.urlsplit(_email_url).path
if secret("EMAIL_PASSWORD"):
    EMAIL_HOST_PASSWORD = secret("EMAIL_PASSWORD")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Partner Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------------------
# Celery
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is redelivered; tasks are idempotent by state
# A pool child that dies (killed, out of memory) gives its task back at once instead of dropping it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Publishing after commit must not hold a request up when the broker is down: the work is recorded
# in the database first, and the sweepers queue it again once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


# Redis hands an unacknowledged task to another worker after this long (kombu's default is an hour).
# It must exceed the longest delay a task is scheduled ahead (MAIL_RETRY_BACKOFF_MAX), or a retry
# waiting for its time would be delivered twice; work lost with a killed worker comes back sooner
# through the sweepers.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=30 * 60)
# A worker whose shutdown after an unrecoverable error wedges exits after this long (portal.celery).
CELERY_WORKER_WEDGED_EXIT_SECONDS = env.int("CELERY_WORKER_WEDGED_EXIT_SECONDS", default=15)


def broker_transport_options(broker_url: str) -> dict:
    """Transport options: Redis' visibility timeout, or the folders of kombu's filesystem broker (embedded)."""
    if broker_url.startswith(("redis://", "rediss://")):
        # Socket timeouts: a Redis that stops answering fails a command instead of hanging it (and a
        # worker's warm shutdown with it); longer than the one-second blocking pop the worker polls with.
        return {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT, "socket_timeout": 15, "socket_connect_timeout": 5}
    if not broker_url.startswith("filesystem://"):
        return {}
    # Producer and worker must share ONE folder in both directions; kombu does not create it.
    queue_dir, processed_dir, control_dir = (VAR_DIR / "broker" / name for name in ("queue", "processed", "control"))
    for folder in (queue_dir, processed_dir, control_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "processed_folder": str(processed_dir),
        "control_folder": str(control_dir),  # broadcast (inspect/ping); default is ./control
        "store_processed": False,
        "polling_interval": 0.2,
    }


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # pysaml2 logs whole SAML documents (addresses, attributes) at INFO and DEBUG.
        "saml2": {"level": "WARNING"},
        # pysaml2's schema library announces each schema it loads, at every start.
        "xmlschema": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------------------
# Portal
# ---------------------------------------------------------------------------
INVITE_EXPIRY_DAYS = env.int("INVITE_EXPIRY_DAYS", default=7)
INVITE_REMINDER_DAYS = env.int("INVITE_REMINDER_DAYS", default=3)  # one reminder this long after an unaccepted invite
# Reminders of an agreement running out, this many days before its valid_until (each sent once per agreement).
AGREEMENT_REMINDER_DAYS = tuple(env.list("AGREEMENT_REMINDER_DAYS", cast=int, default=[30, 7]))
# First retry delay (seconds, doubling, with jitter) when the SMTP server refuses or is down.
INVITE_SEND_RETRY_BACKOFF = env.int("INVITE_SEND_RETRY_BACKOFF", default=30)
AWAITING_VALIDATION_EXPIRY_DAYS = env.int("AWAITING_VALIDATION_EXPIRY_DAYS", default=30)
# The vendor's own mail domains: nobody can be requested with them. Empty: the domains of vendor staff.
VENDOR_EMAIL_DOMAINS = env.list("VENDOR_EMAIL_DOMAINS", default=[])

# ---------------------------------------------------------------------------
# Reliability: every mail is a row before it is queued; sweepers queue again what a crash or a
# broker outage left behind; a sync proves it is alive with a heartbeat.
# ---------------------------------------------------------------------------
MAIL_SEND_MAX_ATTEMPTS = env.int("MAIL_SEND_MAX_ATTEMPTS", default=6)  # then the mail is marked failed
MAIL_RETRY_BACKOFF = INVITE_SEND_RETRY_BACKOFF  # first retry delay in seconds, doubling
MAIL_RETRY_BACKOFF_MAX = env.int("MAIL_RETRY_BACKOFF_MAX", default=10 * 60)
# How often the sweepers run, and how long a mail may wait in the queue (or stay "sending" without an
# outcome) before they queue it again: together they bound how long a crash delays a mail.
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=60)
OUTBOX_STALE_SECONDS = env.int("OUTBOX_STALE_SECONDS", default=60)
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=30)  # sent notifications are kept this long
# A running sync beats this often; a run that missed SYNC_STALE_BEATS beats is taken as abandoned.
SYNC_HEARTBEAT_SECONDS = env.int("SYNC_HEARTBEAT_SECONDS", default=30)
SYNC_STALE_BEATS = env.int("SYNC_STALE_BEATS", default=3)

# Periodic work; django-celery-beat copies this into its tables, where the admin can change it.
CELERY_BEAT_SCHEDULE = {
    "directory-sync-dispatch": {"task": "directory_sync.dispatch_due", "schedule": 60.0},
    "onboarding-expire": {"task": "onboarding.expire", "schedule": 15 * 60.0},
    "outbox-sweep": {"task": "core.outbox_sweep", "schedule": float(OUTBOX_SWEEP_SECONDS)},
    "invites-sweep": {"task": "onboarding.invites_sweep", "schedule": float(OUTBOX_SWEEP_SECONDS)},
    "agreement-reminders": {"task": "partners.agreement_reminders", "schedule": 60 * 60.0},
    "invites-remind": {"task": "onboarding.invites_remind", "schedule": 60 * 60.0},
    "idempotency-purge": {"task": "core.idempotency_purge", "schedule": 60 * 60.0},
    "webhooks-sweep": {"task": "partners.webhooks_sweep", "schedule": float(OUTBOX_SWEEP_SECONDS)},
    "saml-metadata-refresh": {"task": "partners.saml_metadata_refresh", "schedule": 24 * 60 * 60.0},
}
WEBHOOK_ALLOW_LOOPBACK_HTTP = env.bool("WEBHOOK_ALLOW_LOOPBACK_HTTP", default=False)  # http:// to 127.0.0.1/localhost
# SCIM's brake: within this many minutes, at most the connection's removal_brake_percent of the account's people
# (and always at least SCIM_BRAKE_MINIMUM) may be deactivated or deleted by the identity provider.
SCIM_BRAKE_WINDOW_MINUTES = env.int("SCIM_BRAKE_WINDOW_MINUTES", default=60)
SCIM_BRAKE_MINIMUM = env.int("SCIM_BRAKE_MINIMUM", default=5)
