"""Writing audit events: every writing service calls `audit_record` inside its transaction."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from core.models import AuditEvent


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    partner: Any | None = None,
    partner_id: int | None = None,
    data: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `action` to `target`, concerning `partner`
    (a model; or `partner_id` where only the id is known)."""
    event = AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=str(getattr(actor, "email", "") or "") if actor else "",
        action=action,
        partner_id=partner.pk if partner is not None else partner_id,
        data=data or {},
    )
    if target is not None:
        event.target_type = target._meta.label_lower
        event.target_id = str(target.pk)
        event.target_label = str(target)[:300]
    if request is not None:
        event.ip_address = request.META.get("REMOTE_ADDR") or None
        event.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    event.save()
    return event
