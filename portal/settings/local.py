"""The embedded default (`make run`): SQLite, kombu's filesystem broker, mail to files under var/."""

import json
import secrets

from cryptography.fernet import Fernet

from portal.settings.base import *  # noqa: F403
from portal.settings.base import VAR_DIR, broker_transport_options, env, secret

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# Development secrets are generated once into var/ and reused, so that data encrypted at
# rest stays readable between runs. Production never does this (see production.py).
_dev_secrets_file = VAR_DIR / "dev-secrets.json"
if not secret("SECRET_KEY") or not secret("FIELD_ENCRYPTION_KEY"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if not _dev_secrets_file.exists():
        _dev_secrets_file.write_text(json.dumps({
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }))
        _dev_secrets_file.chmod(0o600)
    _dev_secrets = json.loads(_dev_secrets_file.read_text())
    SECRET_KEY = secret("SECRET_KEY") or _dev_secrets["SECRET_KEY"]
    FIELD_ENCRYPTION_KEYS = [secret("FIELD_ENCRYPTION_KEY") or _dev_secrets["FIELD_ENCRYPTION_KEY"]]

# The host part is only there to keep kombu from warning about a missing one on every connect.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

# Static files come straight from the app folders while developing (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
