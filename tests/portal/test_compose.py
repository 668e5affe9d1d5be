"""docker-compose.yml and the Dockerfile describe the production shape (no Docker engine runs here)."""

import yaml

from tests.conftest import ROOT


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_each_with_a_health_check():
    services = load_compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
        assert services[name]["healthcheck"]["test"], name


def test_web_health_check_uses_healthz_and_gunicorn_serves_it():
    web = load_compose()["services"]["web"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["command"][0] == "gunicorn"
    assert "portal.wsgi" in web["command"]


def test_portal_services_run_production_settings_with_file_secrets_and_wait_for_their_dependencies():
    compose = load_compose()
    services = compose["services"]
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "portal.settings.production"
        assert env["SECRET_KEY_FILE"].startswith("/run/secrets/")
        assert env["FIELD_ENCRYPTION_KEY_FILE"].startswith("/run/secrets/")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgres://")
        assert set(services[name]["secrets"]) <= set(compose["secrets"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]


def test_dockerfile_installs_the_locked_dependencies_and_collects_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "-c constraints.txt" in dockerfile
    assert "collectstatic" in dockerfile
    assert "USER portal" in dockerfile


def test_the_worker_gets_time_to_finish_its_tasks_when_stopped():
    worker = load_compose()["services"]["worker"]
    assert worker["stop_grace_period"] == "2m"
