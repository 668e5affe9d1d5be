#!/usr/bin/env bash
# Django's deployment checks under the production settings, with throwaway values for the
# variables production refuses to start without (nothing connects to them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
export DJANGO_SETTINGS_MODULE=portal.settings.production
export SECRET_KEY="${SECRET_KEY:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')}"
export FIELD_ENCRYPTION_KEY="${FIELD_ENCRYPTION_KEY:-$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')}"
export DATABASE_URL="${DATABASE_URL:-postgres://portal@127.0.0.1:5432/portal}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
export EMAIL_URL="${EMAIL_URL:-smtp://127.0.0.1:25}"
export CACHE_URL="${CACHE_URL:-rediscache://127.0.0.1:6379/2}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-portal.example.com}"
exec "$PY" manage.py check --deploy --fail-level WARNING
