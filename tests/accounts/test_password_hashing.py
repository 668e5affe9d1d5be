"""Argon2id with the deployment's parameters, and old hashes redone at the person's next sign-in."""

import pytest
from argon2 import extract_parameters
from django.contrib.auth import hashers as django_hashers
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from accounts import hashers
from accounts.models import User
from portal.settings import base
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

@pytest.fixture
def production_hashers(settings):
    """The hashers of portal.settings.base with its default parameters (the suite's own are test-sized)."""
    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS
    settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM = 19456, 2, 1
    return settings


def test_production_hashes_with_the_portals_argon2id_first():
    assert base.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2PasswordHasher"
    assert (base.ARGON2_MEMORY_COST_KIB, base.ARGON2_TIME_COST, base.ARGON2_PARALLELISM) == (19456, 2, 1)


def parameters(encoded: str) -> tuple[int, int, int]:
    """(memory KiB, passes, lanes) of a stored argon2 hash."""
    params = extract_parameters("$" + encoded.split("$", 1)[1])
    return params.memory_cost, params.time_cost, params.parallelism


def sign_in(client, email: str, password: str = PASSWORD):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def test_new_passwords_get_the_configured_argon2id_parameters(production_hashers):
    encoded = make_password(PASSWORD)

    assert encoded.startswith("argon2$argon2id$")
    assert parameters(encoded) == (19456, 2, 1)
    assert check_password(PASSWORD, encoded)


def test_the_parameters_come_from_the_settings(production_hashers):
    production_hashers.ARGON2_MEMORY_COST_KIB, production_hashers.ARGON2_TIME_COST = 47104, 1
    production_hashers.ARGON2_PARALLELISM = 2

    assert parameters(make_password(PASSWORD)) == (47104, 1, 2)


def test_a_hash_of_the_configured_parameters_needs_no_update(production_hashers):
    encoded = make_password(PASSWORD)

    assert not identify_hasher(encoded).must_update(encoded)


def test_a_hash_with_djangos_default_argon2_parameters_is_redone_at_the_next_sign_in(client, production_hashers):
    user = UserFactory()
    old = django_hashers.Argon2PasswordHasher().encode(PASSWORD, django_hashers.Argon2PasswordHasher().salt())
    User.objects.filter(pk=user.pk).update(password=old)
    assert parameters(old) == (102400, 2, 8)

    response = sign_in(client, user.email)

    assert response.status_code == 302 and response["Location"] == "/"
    stored = User.objects.get(pk=user.pk).password
    assert parameters(stored) == (19456, 2, 1)
    assert check_password(PASSWORD, stored)


def test_a_pbkdf2_hash_is_redone_as_argon2id_at_the_next_sign_in(client, production_hashers):
    user = UserFactory()
    old = django_hashers.PBKDF2PasswordHasher().encode(PASSWORD, "somesalt", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=old)

    response = sign_in(client, user.email)

    assert response.status_code == 302 and response["Location"] == "/"
    stored = User.objects.get(pk=user.pk).password
    assert stored.startswith("argon2$argon2id$") and parameters(stored) == (19456, 2, 1)


def test_a_wrong_password_leaves_the_old_hash_as_it_was(client, production_hashers):
    user = UserFactory()
    old = django_hashers.PBKDF2PasswordHasher().encode(PASSWORD, "somesalt", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=old)

    response = sign_in(client, user.email, password="not the password at all")

    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).password == old


@pytest.mark.parametrize(("memory", "passes"), [(19456, 2), (47104, 1), (12288, 3), (7168, 5), (7168, 9), (65536, 3)])
def test_owasps_configurations_and_above_pass_the_system_check(settings, memory, passes):
    settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM = memory, passes, 1

    assert hashers.argon2_parameters_check() == []


@pytest.mark.parametrize(("memory", "passes"), [(19455, 2), (19456, 1), (102400, 0), (7000, 5)])
def test_parameters_below_owasps_minimum_fail_the_system_check(settings, memory, passes):
    settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_TIME_COST = memory, passes

    assert [error.id for error in hashers.argon2_parameters_check()] == ["accounts.E001"]


def test_no_lane_at_all_fails_the_system_check(settings):
    settings.ARGON2_PARALLELISM = 0

    assert [error.id for error in hashers.argon2_parameters_check()] == ["accounts.E002"]
