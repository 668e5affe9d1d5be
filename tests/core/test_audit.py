"""The audit trail: what audit_record writes, and that nobody (model or database) can change it."""

import psycopg2.errors
import pytest
from django.db import ProgrammingError, connection, transaction
from django.test import RequestFactory

from core.audit import audit_record
from core.models import AuditEvent, AuditLogIsAppendOnly
from tests.accounts.factories import AdminFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return audit_record(actor=None, action="test.recorded", data={"n": 1})


def test_audit_record_fills_actor_target_and_request_fields():
    actor = AdminFactory(display_email="Admin.One@Vendor.example")
    partner = PartnerFactory(name="Acme Mail")
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7", HTTP_USER_AGENT="pytest-browser/1.0")

    event = audit_record(
        actor=actor, action="partner.updated", target=partner, partner=partner, data={"k": "v"}, request=request
    )

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor_id == actor.pk
    assert event.actor_label == "admin.one@vendor.example"
    assert event.action == "partner.updated"
    assert event.partner_id == partner.pk
    assert event.target_type == "partners.partner"
    assert event.target_id == str(partner.pk)
    assert event.target_label == "Acme Mail"
    assert event.data == {"k": "v"}
    assert event.ip_address == "192.0.2.7"
    assert event.user_agent == "pytest-browser/1.0"
    assert event.created_at is not None


def test_audit_record_without_actor_is_the_system():
    event = audit_record(actor=None, action="sync.finished")

    assert event.actor_id is None
    assert event.actor_label == ""
    assert event.target_type == ""
    assert event.data == {}
    assert "system sync.finished" in str(event)


def test_audit_record_without_request_leaves_origin_empty():
    event = audit_record(actor=None, action="sync.finished")

    assert event.ip_address is None
    assert event.user_agent == ""


def test_audit_record_truncates_long_user_agent():
    request = RequestFactory().get("/", HTTP_USER_AGENT="x" * 1000)

    event = audit_record(actor=None, action="test.recorded", request=request)

    assert len(event.user_agent) == 300


def test_audit_event_outlives_its_actor():
    actor = AdminFactory()
    event = audit_record(actor=actor, action="test.recorded")

    actor.delete()

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor_id is not None
    assert event.actor_label == actor.email


def test_saving_an_existing_event_is_refused(event):
    event.action = "test.rewritten"

    with pytest.raises(AuditLogIsAppendOnly):
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")

    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"


def test_queryset_delete_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_update_is_refused_by_the_database(event):
    with (
        pytest.raises(ProgrammingError, match="append-only") as excinfo,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE portal_auditevent SET action = 'test.rewritten' WHERE id = %s", [event.pk])

    assert isinstance(excinfo.value.__cause__, psycopg2.errors.InsufficientPrivilege)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"


def test_raw_sql_delete_is_refused_by_the_database(event):
    with (
        pytest.raises(ProgrammingError, match="append-only") as excinfo,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])

    assert isinstance(excinfo.value.__cause__, psycopg2.errors.InsufficientPrivilege)
    assert AuditEvent.objects.filter(pk=event.pk).exists()
