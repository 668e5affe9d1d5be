"""GET /healthz reports the database and the broker."""

import pytest
from django.db import connections
from django.db.utils import load_backend

from portal import health
from portal.celery import app as celery_app
from tests.conftest import free_port


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client, redis_url):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "error"}


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
