# Partner Portal production image: gunicorn serves the app, whitenoise its static files.
# The same image runs the web server, the Celery worker and Celery beat (see docker-compose.yml).

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libldap2-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY portal ./portal
COPY accounts ./accounts
COPY onboarding ./onboarding
COPY directory_sync ./directory_sync
RUN python -m venv /venv \
 && /venv/bin/pip install --no-cache-dir --upgrade pip \
 && /venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 xmlsec1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app portal
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=portal:portal . .
ENV PATH="/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=portal.settings.production \
    PORTAL_VAR_DIR=/app/var
# collectstatic needs the production settings to load; these throwaway values never leave the build.
RUN SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    DATABASE_URL=postgres://build@localhost/build CELERY_BROKER_URL=redis://localhost EMAIL_URL=smtp://localhost \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
 && mkdir -p /app/var && chown portal:portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
