"""GET /healthz reports the database and the broker, and the work waiting or failed (without failing on it)."""

import datetime

import pytest
from django.db import connections
from django.db.utils import load_backend
from django.utils import timezone

from core.models import MailState, OutboundMail
from directory_sync.models import SyncRun
from portal import health
from portal.celery import app as celery_app
from tests.conftest import free_port
from tests.directory_sync.factories import SyncRunFactory

NOTHING_WAITING = {
    "mail": {"pending": 0, "sending": 0, "failed": 0},
    "invites": {"pending": 0, "sending": 0, "failed": 0},
    "syncs": {"running": 0, "stale": 0},
}


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client, redis_url):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "work": NOTHING_WAITING}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_reports_failed_mail_and_stale_syncs_without_failing_on_them(client, redis_url):
    OutboundMail.objects.create(to="pat@acme.example", subject="Request approved", body="…",
                                template="request_item_decided", state=MailState.FAILED, attempts=6)
    run = SyncRunFactory(started_at=timezone.now() - datetime.timedelta(hours=1))
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 200
    work = response.json()["work"]
    assert (work["mail"]["failed"], work["syncs"]) == (1, {"running": 1, "stale": 1})


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "error", "work": NOTHING_WAITING}


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(client, monkeypatch, redis_url):
    # A real connection to a port nobody listens on, in place of the default one.
    settings_dict = {**connections["default"].settings_dict, "PORT": str(free_port())}
    dead = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    monkeypatch.setattr(health, "connection", dead)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "error", "broker": "ok"}


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
