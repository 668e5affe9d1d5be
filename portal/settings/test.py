"""The test suite: PostgreSQL and Redis (real servers), eager Celery unless a test starts a worker."""

from portal.settings.base import *  # noqa: F403
from portal.settings.base import broker_transport_options, env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdefghijklmnop"  # noqa: S105
FIELD_ENCRYPTION_KEYS = ["s5yxGiXk2Gx2e3pQ3jB3q7V1QhFDc6fYbI4bW0bq6bA="]
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# The suite runs against PostgreSQL, never SQLite (make test starts it when it is down).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/portal")}
DATABASES["default"]["CONN_MAX_AGE"] = 0

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_IGNORE_RESULT = False
# Unit tests run tasks in-process; integration tests switch this off and start a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True

# In-process tests capture mail (pytest-django's locmem); a Celery worker started by a test
# gets EMAIL_URL pointing at the suite's real SMTP server.
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = env.str("MEDIA_ROOT", default="/tmp/partner-portal-test-media")  # noqa: S108
PRIVATE_MEDIA_ROOT = env.str("PRIVATE_MEDIA_ROOT", default="/tmp/partner-portal-test-private")  # noqa: S108
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Argon2 as in production, with test-sized cost parameters (the hash format is the same).
PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
WEBHOOK_ALLOW_LOOPBACK_HTTP = True  # webhook tests deliver to an HTTP server on loopback
