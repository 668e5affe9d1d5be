"""Sign-in lockout behind the documented reverse proxy: per address locked, per client throttled.

The requests come as production gets them: from the proxy (REMOTE_ADDR), with the client's address
appended to X-Forwarded-For, and TRUSTED_PROXY_COUNT = 1 as docker-compose sets it. Five failures
lock the address being signed in to, from everywhere; a client is throttled only after
SIGNIN_CLIENT_FAILURE_LIMIT failures; and no client's failures lock out anyone else's right password.
"""

import pytest
import yaml
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from accounts import errors
from core.clients import client_ip
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
LIMIT = django_settings.AXES_FAILURE_LIMIT
WRONG = "not the password at all"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def through_proxy(client_address: str, *, forwarded: str = "") -> Client:
    """A browser at `client_address`, reaching the portal through the proxy (which appends the address)."""
    header = f"{forwarded}, {client_address}" if forwarded else client_address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)


def attempt(client: Client, email: str, password: str):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def locked(response) -> bool:
    minutes = int(django_settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return response.status_code == 429 and errors.LOCKED_OUT.format(minutes=minutes) in response.content.decode()


@pytest.fixture
def ann():
    return UserFactory(display_email="Ann.Proxy@Partner-Proxy.example")


@pytest.fixture
def bob():
    return UserFactory(display_email="Bob.Proxy@Partner-Proxy.example")


def test_one_clients_failures_do_not_lock_another_client_out(ann):
    attacker = through_proxy("203.0.113.66")
    for n in range(LIMIT):
        attempt(attacker, f"guess{n}@Partner-Proxy.example", WRONG)

    assert signed_in(attempt(through_proxy("198.51.100.7"), ann.email, PASSWORD))


def test_someone_elses_right_password_still_works_from_a_client_with_failures(ann, bob):
    office = "198.51.100.20"  # one address for a whole office (its NAT)
    failures = [attempt(through_proxy(office), ann.email, WRONG) for _ in range(LIMIT)]

    assert locked(failures[-1])  # ann's address is locked ...
    assert signed_in(attempt(through_proxy(office), bob.email, PASSWORD))  # ... bob's, from the same place, is not


def test_a_locked_address_stays_locked_from_every_client(ann):
    for n in range(LIMIT):
        attempt(through_proxy(f"203.0.113.{n + 1}"), ann.email, WRONG)

    assert locked(attempt(through_proxy("198.51.100.7"), ann.email, PASSWORD))


def test_a_client_that_fails_for_many_addresses_is_throttled_and_no_one_else_is(settings, ann):
    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 3 * LIMIT  # the default (50) takes long to reach
    sprayer = "203.0.113.99"
    answers = [attempt(through_proxy(sprayer), f"user{n}@Partner-Proxy.example", WRONG)
               for n in range(settings.SIGNIN_CLIENT_FAILURE_LIMIT)]

    assert not any(locked(a) for a in answers[:-1])
    assert locked(answers[-1])
    assert locked(attempt(through_proxy(sprayer), ann.email, PASSWORD))
    assert signed_in(attempt(through_proxy("198.51.100.7"), ann.email, PASSWORD))


def test_addresses_a_client_writes_into_x_forwarded_for_do_not_escape_its_throttle(settings):
    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 3 * LIMIT
    answers = [attempt(through_proxy("203.0.113.99", forwarded=f"192.0.2.{n + 1}"),
                       f"user{n}@Partner-Proxy.example", WRONG)
               for n in range(settings.SIGNIN_CLIENT_FAILURE_LIMIT)]

    assert locked(answers[-1])


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 3 * LIMIT
    answers = [attempt(Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}"),
                       f"user{n}@Partner-Proxy.example", WRONG)
               for n in range(settings.SIGNIN_CLIENT_FAILURE_LIMIT)]

    assert locked(answers[-1])


def test_failures_are_recorded_against_the_client_not_the_proxy(ann):
    from axes.models import AccessAttempt

    attempt(through_proxy("203.0.113.66"), ann.email, WRONG)

    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.66"]


@pytest.mark.parametrize(("count", "meta", "expected"), [
    (0, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "10.0.0.2"),
    (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
    (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.7"}, "203.0.113.7"),
    (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"),
    (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "10.0.0.3"),  # not through both
    (1, {"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),  # straight to the server
    (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, not-an-address"}, "10.0.0.2"),
    (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}, "2001:db8::7"),
])
def test_the_client_is_the_address_the_outermost_trusted_proxy_saw(settings, count, meta, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", **meta)
    request.META.update(meta)

    assert client_ip(request) == expected


def test_docker_compose_trusts_its_one_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    for name in ("web", "worker", "beat", "migrate"):
        assert str(compose["services"][name]["environment"]["TRUSTED_PROXY_COUNT"]) == "1", name
