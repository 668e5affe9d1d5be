"""Brute-force protection (django-axes) and session rules, at the client level.

Five failures lock an address (whatever its spelling, known or not), and SIGNIN_CLIENT_FAILURE_LIMIT
failures throttle the client's IP address, for AXES_COOLOFF_TIME; the answer is a 429 with one message
for everyone. (Behind a reverse proxy, see tests/security/test_lockout_proxy.py.) Sessions get a new key
at sign-in, end after SESSION_IDLE_TIMEOUT without a request and SESSION_COOKIE_AGE after signing in
whatever the activity, and sign-out is POST only. Time is moved with time_machine.
"""

import datetime
import re

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts import errors
from accounts.models import User
from core.models import AuditEvent
from tests.accounts.factories import PASSWORD, AdminFactory, UserFactory
from tests.conftest import login_with_second_factor

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
PASSWORD_URL = "/accounts/login/password/"
WRONG = "not the password at all"
LIMIT = django_settings.AXES_FAILURE_LIMIT
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def locked_message() -> str:
    return errors.LOCKED_OUT.format(minutes=int(django_settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def attempt(email: str, password: str, *, ip: str = "127.0.0.1", client: Client | None = None):
    """One sign-in attempt (address step, then password step) from `ip`."""
    client = client or Client(REMOTE_ADDR=ip)
    client.post(LOGIN_URL, {"email": email})
    return client.post(PASSWORD_URL, {"password": password})


def fail_from_many_ips(email: str, times: int = LIMIT) -> list:
    """Failures for one address from as many different clients, so that no IP address reaches the limit."""
    return [attempt(email, WRONG, ip=f"198.51.100.{n + 1}") for n in range(times)]


def visible(response, email: str) -> str:
    """The page as a visitor sees it, without the CSRF token and with the address typed replaced."""
    return CSRF_VALUE.sub(r"\1\2", response.content.decode()).replace(email, "ADDRESS")


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


@pytest.fixture
def person() -> User:
    return UserFactory(display_email="Lee.Locked@Partner-Lock.example")


def test_the_first_failures_are_ordinary_wrong_password_answers(person):
    answers = fail_from_many_ips(person.email, LIMIT - 1)

    assert [a.status_code for a in answers] == [200] * (LIMIT - 1)
    assert all(str(errors.SIGN_IN_FAILED) in a.content.decode() for a in answers)


def test_the_fifth_failure_locks_the_address_with_a_429_and_the_message(person):
    fifth = fail_from_many_ips(person.email)[-1]

    assert fifth.status_code == 429
    assert locked_message() in fifth.content.decode()


def test_a_locked_address_refuses_even_the_right_password(person):
    fail_from_many_ips(person.email)

    answer = attempt(person.email, PASSWORD, ip="203.0.113.9")

    assert answer.status_code == 429
    assert locked_message() in answer.content.decode()
    assert "_auth_user_id" not in answer.wsgi_request.session


def test_an_unknown_address_is_locked_the_same_way(person):
    known = fail_from_many_ips(person.email)[-1]
    unknown = fail_from_many_ips("nobody.here@Partner-Lock.example")[-1]
    unknown_again = attempt("nobody.here@Partner-Lock.example", WRONG, ip="203.0.113.9")

    assert known.status_code == unknown.status_code == unknown_again.status_code == 429
    assert locked_message() in unknown.content.decode()
    assert visible(known, person.email) == visible(unknown, "nobody.here@Partner-Lock.example")


def test_spellings_of_an_address_share_one_counter(person):
    spellings = ["Lee.Locked@Partner-Lock.example", "lee.locked@partner-lock.example",
                 "LEE.LOCKED@PARTNER-LOCK.EXAMPLE", " lee.locked@Partner-Lock.EXAMPLE ",
                 "Lee.LOCKED@partner-lock.example"]

    answers = [attempt(spelling, WRONG, ip=f"198.51.100.{n + 1}") for n, spelling in enumerate(spellings)]

    assert answers[-1].status_code == 429
    assert attempt("lEE.lOCKED@Partner-LOCK.example", PASSWORD, ip="203.0.113.9").status_code == 429


def test_failures_for_different_addresses_from_one_client_throttle_that_client(person, settings):
    settings.SIGNIN_CLIENT_FAILURE_LIMIT = 2 * LIMIT  # the default (50) takes a while to reach
    answers = [attempt(f"guess{n}@Partner-Lock.example", WRONG, ip="192.0.2.50")
               for n in range(settings.SIGNIN_CLIENT_FAILURE_LIMIT)]

    assert [a.status_code for a in answers[:-1]] == [200] * (settings.SIGNIN_CLIENT_FAILURE_LIMIT - 1)
    assert answers[-1].status_code == 429
    from_there = attempt(person.email, PASSWORD, ip="192.0.2.50")
    assert from_there.status_code == 429
    assert locked_message() in from_there.content.decode()
    assert signed_in(attempt(person.email, PASSWORD, ip="192.0.2.51"))  # the address itself is not locked


def test_failures_from_one_client_under_its_limit_leave_someone_elses_right_password_working(person):
    answers = [attempt(f"guess{n}@Partner-Lock.example", WRONG, ip="192.0.2.60") for n in range(2 * LIMIT)]

    assert all(a.status_code == 200 for a in answers)
    assert signed_in(attempt(person.email, PASSWORD, ip="192.0.2.60"))


def test_the_client_limit_is_higher_than_the_address_limit():
    assert django_settings.SIGNIN_CLIENT_FAILURE_LIMIT == 50
    assert django_settings.SIGNIN_CLIENT_FAILURE_LIMIT > LIMIT


def test_signing_in_clears_the_earlier_failures_of_the_address(person):
    fail_from_many_ips(person.email, LIMIT - 1)
    assert signed_in(attempt(person.email, PASSWORD, ip="203.0.113.9"))

    after = fail_from_many_ips(person.email, LIMIT - 1)

    assert [a.status_code for a in after] == [200] * (LIMIT - 1)


def test_a_lockout_is_audited(person):
    fail_from_many_ips(person.email)

    event = AuditEvent.objects.filter(action="signin.locked_out").latest("pk")
    assert event.target_id == str(person.pk)
    assert event.data == {"email": person.email}


def test_after_the_cool_off_time_the_right_password_works_again(person):
    fail_from_many_ips(person.email)
    later = timezone.now() + django_settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=5)

    with time_machine.travel(later, tick=False):
        answer = attempt(person.email, PASSWORD, ip="203.0.113.9")

    assert signed_in(answer)


def test_the_address_stays_locked_until_the_cool_off_time_has_passed(person):
    fail_from_many_ips(person.email)
    almost = timezone.now() + django_settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=30)

    with time_machine.travel(almost, tick=False):
        answer = attempt(person.email, PASSWORD, ip="203.0.113.9")

    assert answer.status_code == 429


def test_an_admin_unlocks_the_address_with_an_audited_admin_action(person):
    fail_from_many_ips(person.email)
    admin = AdminFactory()
    admin_client = Client()
    login_with_second_factor(admin_client, admin)

    done = admin_client.post("/admin/accounts/user/", {"action": "unlock_sign_in", "_selected_action": [person.pk]})

    assert done.status_code == 302
    assert signed_in(attempt(person.email, PASSWORD, ip="203.0.113.9"))
    event = AuditEvent.objects.get(action="signin.unlocked")
    assert event.actor_id == admin.pk
    assert event.target_id == str(person.pk)


# --- sessions ----------------------------------------------------------------------------------------------


def test_signing_in_gives_the_session_a_new_key(person, client):
    client.post(LOGIN_URL, {"email": person.email})
    before = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    assert signed_in(client.post(PASSWORD_URL, {"password": PASSWORD}))

    after = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert after != before
    planted = Client()
    planted.cookies[django_settings.SESSION_COOKIE_NAME] = before  # a key fixed by someone else before sign-in
    assert planted.get("/").status_code == 302


def test_a_session_idle_for_the_idle_timeout_is_signed_out_with_a_message(person, client):
    attempt(person.email, PASSWORD, client=client)
    later = timezone.now() + datetime.timedelta(seconds=django_settings.SESSION_IDLE_TIMEOUT + 5)

    with time_machine.travel(later, tick=False):
        answer = client.get("/", follow=True)

    assert answer.redirect_chain[0] == ("/accounts/login/?next=%2F", 302)
    assert "You were signed out after a period of inactivity." in answer.content.decode()
    assert client.get("/").status_code == 302


def test_a_session_with_requests_within_the_idle_timeout_stays_signed_in(person, client):
    attempt(person.email, PASSWORD, client=client)
    later = timezone.now() + datetime.timedelta(seconds=django_settings.SESSION_IDLE_TIMEOUT - 30)

    with time_machine.travel(later, tick=False):
        answer = client.get("/")

    assert answer.status_code == 200


def test_a_session_ends_after_the_absolute_lifetime_even_with_activity(person, client):
    attempt(person.email, PASSWORD, client=client)
    start = timezone.now()
    step = datetime.timedelta(seconds=django_settings.SESSION_IDLE_TIMEOUT - 120)
    lifetime = datetime.timedelta(seconds=django_settings.SESSION_COOKIE_AGE)

    moment = start + step
    while moment - start < lifetime - datetime.timedelta(seconds=5):
        with time_machine.travel(moment, tick=False):
            assert client.get("/").status_code == 200, f"signed out {moment - start} after signing in"
        moment += step
    with time_machine.travel(start + lifetime + datetime.timedelta(seconds=5), tick=False):
        answer = client.get("/", follow=True)

    assert answer.redirect_chain[0] == ("/accounts/login/?next=%2F", 302)
    assert "Your session ended: please sign in again." in answer.content.decode()


def test_sign_out_by_get_is_refused(person, client):
    attempt(person.email, PASSWORD, client=client)

    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


def test_sign_out_by_post_ends_the_session(person, client):
    attempt(person.email, PASSWORD, client=client)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    answer = client.post("/accounts/logout/", follow=True)

    assert answer.redirect_chain == [("/accounts/login/", 302)]
    assert "You are signed out." in answer.content.decode()
    assert client.get("/").status_code == 302
    replayed = Client()
    replayed.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert replayed.get("/").status_code == 302
