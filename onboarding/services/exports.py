"""Exports of partner data: each is recorded, as a read of who has access is worth knowing about afterwards."""

from django.http import HttpRequest

from core.audit import audit_record
from core.models import AuditEvent
from partners.models import Partner


def people_export_record(*, actor, partner: Partner | None, request: HttpRequest | None = None) -> AuditEvent:
    """Record that `actor` exported the portal users of `partner` (None: of every partner they may see)."""
    return audit_record(actor=actor, action="people.exported", target=partner, partner=partner, request=request)
