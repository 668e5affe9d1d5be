"""Sign-in at a fixed, small number of queries, whatever the person's history or devices.

The tests run outside a test transaction, as requests do in production, so that every statement a
request sends is counted: BEGIN and COMMIT included.
"""

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import BackupCodeDevice, TOTPDevice
from core.audit import audit_record
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from partners.models import AccountDomain
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import totp_code
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

# session, route, failures (address and client), the person, their address in the directory; the new
# session key (insert, delete the old row), last_login, the audit event, the session's data.
PASSWORD_STEP_SIGNING_IN = 10
# session, route, failures, the person, their address; the session's data (the pending second factor).
PASSWORD_STEP_ASKING_FOR_THE_CODE = 6
# the route, the new session.
EMAIL_STEP = 2
# session, the person (with their account's settings), the authenticator (a transaction: read and lock
# it, reset its throttle), the new session key (insert, delete the old row), whether the address has
# failures to reset, last_login, the audit event, the session's data.
CODE_STEP_SIGNING_IN = 12


@pytest.fixture
def msp():
    """An MSP whose directory (a CSV upload) has Ann and Bea."""
    partner = PartnerFactory(slug="acme")
    AccountDomain.objects.create(partner=partner, domain="acme.example")
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Ann,ann@acme.example,,,yes\n"
        b"Bea,bea@acme.example,bea.alias@acme.example,,yes\n"
    ))
    return partner


def queries(client, url: str, data: dict) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, data)
    return len(captured), response


def password_step(client, email: str) -> tuple[int, object]:
    client.post("/accounts/login/", {"email": email})
    return queries(client, "/accounts/login/password/", {"password": PASSWORD})


def with_history(user, *, events: int) -> None:
    """Audit events, an authenticator never confirmed and a set of backup codes: none of it counts."""
    for n in range(events):
        audit_record(actor=user, action="test.history", target=user, partner=user.partner, data={"n": n})
    TOTPDevice.objects.create(user=user, name="abandoned", confirmed=False)
    BackupCodeDevice.objects.create(user=user, name="backup", confirmed=True)


def test_the_email_step_costs_two_queries(client, msp):
    count, response = queries(client, "/accounts/login/", {"email": "ann@acme.example"})

    assert response.status_code == 302
    assert count == EMAIL_STEP


def test_the_password_step_signs_in_with_ten_queries(client, msp):
    UserFactory(partner=msp, display_email="ann@acme.example")

    count, response = password_step(client, "ann@acme.example")

    assert response.status_code == 302 and response["Location"] == "/"
    assert count == PASSWORD_STEP_SIGNING_IN


def test_the_password_step_costs_the_same_for_a_person_with_a_long_history(client, msp):
    UserFactory(partner=msp, display_email="ann@acme.example")
    with_history(UserFactory(partner=msp, display_email="bea@acme.example"), events=40)

    ann, _ = password_step(client, "ann@acme.example")
    client.post("/accounts/logout/")
    bea, response = password_step(client, "bea@acme.example")

    assert response["Location"] == "/"
    assert ann == bea == PASSWORD_STEP_SIGNING_IN


def test_the_password_step_of_people_with_authenticators_asks_for_the_code_at_the_same_cost(client, msp):
    ann = UserFactory(partner=msp, display_email="ann@acme.example")
    TOTPDevice.objects.create(user=ann, name="phone", confirmed=True)
    bea = UserFactory(partner=msp, display_email="bea@acme.example")
    with_history(bea, events=40)
    TOTPDevice.objects.create(user=bea, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=bea, name="tablet", confirmed=True)

    first, response = password_step(client, "ann@acme.example")
    client.cookies.clear()
    second, _ = password_step(client, "bea@acme.example")

    assert response["Location"] == "/accounts/login/verify/"
    assert first == second == PASSWORD_STEP_ASKING_FOR_THE_CODE


def test_the_code_step_signs_in_at_the_same_cost_for_people_with_different_histories(client, msp):
    ann = UserFactory(partner=msp, display_email="ann@acme.example")
    ann_phone = TOTPDevice.objects.create(user=ann, name="phone", confirmed=True)
    bea = UserFactory(partner=msp, display_email="bea@acme.example")
    with_history(bea, events=40)
    bea_phone = TOTPDevice.objects.create(user=bea, name="phone", confirmed=True)

    counts = []
    for person, phone in ((ann, ann_phone), (bea, bea_phone)):
        client.cookies.clear()
        password_step(client, person.email)
        count, response = queries(client, "/accounts/login/verify/", {"token": totp_code(phone.bin_key)})
        assert response.status_code == 302 and response["Location"] == "/"
        counts.append(count)

    assert counts == [CODE_STEP_SIGNING_IN, CODE_STEP_SIGNING_IN]


def test_the_person_is_looked_up_once_however_many_backends_ask(client, msp):
    UserFactory(partner=msp, display_email="ann@acme.example")
    client.post("/accounts/login/", {"email": "ann@acme.example"})

    with CaptureQueriesContext(connection) as captured:
        client.post("/accounts/login/password/", {"password": "not the password at all"})

    person_lookups = [q for q in captured.captured_queries if q["sql"].startswith('SELECT "accounts_user"."id"')
                      and "has_confirmed_device" in q["sql"]]
    assert len(person_lookups) == 1


def test_a_sign_in_after_failures_still_clears_them(client, msp):
    UserFactory(partner=msp, display_email="ann@acme.example")
    client.post("/accounts/login/", {"email": "ann@acme.example"})
    client.post("/accounts/login/password/", {"password": "wrong once"})
    assert AccessAttempt.objects.filter(username="ann@acme.example").exists()

    response = client.post("/accounts/login/password/", {"password": PASSWORD})

    assert response["Location"] == "/"
    assert not AccessAttempt.objects.filter(username="ann@acme.example").exists()
