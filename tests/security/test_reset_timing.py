"""A password-reset request does the same work whatever the address, so its timing tells nothing.

Known addresses used to cost more in the request (the lookup's follow-ups, an audit row, a mail
rendered and queued). Now the request queues the address as typed and a worker does the rest. Rather
than time requests on a busy machine, these tests show the work is the same: the same database
queries, the same templates, and one queued task of the same shape for every kind of address.
"""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services.passwords import RESET_TASK
from core.models import AuditEvent, OutboundMail
from directory_sync.models import AddressKind, SourceKind
from partners.models import AuthMethod
from tests.accounts.factories import UserFactory
from tests.directory_sync.factories import DirectoryAddressFactory, DirectoryConnectionFactory, DirectoryUserFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

RESET_URL = "/accounts/password/reset/"
USER_AGENT = "Mozilla/5.0 (reset timing test)"
TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN)\s+"(\w+)"')


@pytest.fixture
def addresses() -> dict[str, str]:
    """One address of each kind the reset page may be given, spelled as a person might type it."""
    cloud = UserFactory(display_email="Known@Cloud-Timing.example")
    no_reset = PartnerFactory()
    no_reset.account_settings.self_service_reset = False
    no_reset.account_settings.save()
    domain = PartnerFactory()
    domain.account_settings.auth_method = AuthMethod.DOMAIN_PASSWORD
    domain.account_settings.save()
    directory = PartnerFactory()
    DirectoryConnectionFactory(partner=directory, kind=SourceKind.CSV, uri="")
    person = DirectoryUserFactory(partner=directory)
    primary = DirectoryAddressFactory(directory_user=person, display_address="Dir@Dir-Timing.example")
    DirectoryAddressFactory(directory_user=person, display_address="Dir.Alias@Dir-Timing.example",
                            kind=AddressKind.ALIAS)
    UserFactory(partner=directory, display_email=primary.display_address, directory_user=person)
    return {
        "known, with a link": cloud.display_email.upper(),
        "known, reset not allowed": UserFactory(partner=no_reset).display_email,
        "known, domain password": UserFactory(partner=domain).display_email,
        "known, in a directory": "dir@dir-timing.example",
        "alias": "Dir.Alias@Dir-Timing.example",
        "unknown": "nobody@Cloud-Timing.example",
        "unknown domain": "someone@nowhere-timing.example",
    }


def reset_post(address: str, capture, *, execute: bool = False):
    """The reset POST of a visitor who opened the page first; its queries, templates and on-commit callbacks."""
    visitor = Client(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR="198.51.100.3")
    visitor.get(RESET_URL)
    with capture(execute=execute) as callbacks, CaptureQueriesContext(connection) as queries:
        response = visitor.post(RESET_URL, {"email": address})
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries], callbacks


def shape(sql: list[str]) -> list[tuple[str, ...]]:
    """Each query's verb and tables: what the database was asked to do, without the values."""
    return [(statement.split()[0], *TABLE.findall(statement)) for statement in sql]


def test_every_address_costs_the_same_database_queries(addresses, django_capture_on_commit_callbacks):
    work = {kind: shape(reset_post(address, django_capture_on_commit_callbacks)[1])
            for kind, address in addresses.items()}

    unknown = work["unknown"]
    assert {kind: len(queries) for kind, queries in work.items()} == dict.fromkeys(addresses, len(unknown))
    assert all(queries == unknown for queries in work.values()), work


def test_every_address_renders_the_same_templates_and_no_mail(addresses, django_capture_on_commit_callbacks):
    rendered = {kind: [t.name for t in reset_post(address, django_capture_on_commit_callbacks)[0].templates]
                for kind, address in addresses.items()}

    assert len({tuple(names) for names in rendered.values()}) == 1, rendered
    assert not any(name.startswith("mail/") for name in rendered["unknown"])
    assert not AuditEvent.objects.filter(action="password.reset_requested").exists()
    assert not OutboundMail.objects.exists()


def test_every_address_queues_one_task_of_the_same_shape(addresses, django_capture_on_commit_callbacks,
                                                          monkeypatch):
    queued = []
    monkeypatch.setattr("core.queue.enqueue", lambda name, *args, **kwargs: queued.append((name, args, kwargs)))

    for address in addresses.values():
        reset_post(address, django_capture_on_commit_callbacks, execute=True)

    assert queued == [
        (RESET_TASK, (), {"email": address, "client_ip": "198.51.100.3", "user_agent": USER_AGENT})
        for address in addresses.values()
    ]


def test_the_worker_does_the_lookup_the_audit_and_the_mail(addresses, django_capture_on_commit_callbacks):
    reset_post(addresses["known, with a link"], django_capture_on_commit_callbacks, execute=True)
    reset_post(addresses["unknown"], django_capture_on_commit_callbacks, execute=True)

    [event] = AuditEvent.objects.filter(action="password.reset_requested")
    assert event.data == {"answer": "password_reset_link"}
    assert (event.ip_address, event.user_agent) == ("198.51.100.3", USER_AGENT)
    assert [message.to for message in mail.outbox] == [["Known@Cloud-Timing.example"]]


def test_behind_the_proxy_the_worker_audits_the_clients_address(settings, addresses,
                                                                django_capture_on_commit_callbacks):
    settings.TRUSTED_PROXY_COUNT = 1
    visitor = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.8")
    visitor.get(RESET_URL)
    with django_capture_on_commit_callbacks(execute=True):
        visitor.post(RESET_URL, {"email": addresses["known, with a link"]})

    assert AuditEvent.objects.get(action="password.reset_requested").ip_address == "203.0.113.8"
