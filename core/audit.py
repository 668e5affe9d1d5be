"""Writing audit events: every writing service calls `audit_record` inside its transaction (or, for a list's
worth of changes, builds them with `audit_event` and writes them at once with `audit_record_many`)."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from core.clients import client_ip
from core.models import AuditEvent


def audit_event(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    partner: Any | None = None,
    partner_id: int | None = None,
    data: dict | None = None,
    request: HttpRequest | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    api_token: dict | None = None,
) -> AuditEvent:
    """The event `audit_record` writes, not saved yet: for `audit_record_many`."""
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
        # The client behind the trusted proxies (TRUSTED_PROXY_COUNT), never the proxy itself.
        ip_address, user_agent = client_ip(request), request.META.get("HTTP_USER_AGENT", "")
        api_token = _api_token(request)
    if api_token:
        event.data = {**event.data, "api_token": api_token}
    event.ip_address = ip_address or None
    event.user_agent = (user_agent or "")[:300]
    return event


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    partner: Any | None = None,
    partner_id: int | None = None,
    data: dict | None = None,
    request: HttpRequest | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
) -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `action` to `target`, concerning `partner`
    (a model; or `partner_id` where only the id is known)."""
    event = audit_event(actor=actor, action=action, target=target, partner=partner, partner_id=partner_id,
                        data=data, request=request, ip_address=ip_address, user_agent=user_agent)
    event.save()
    return event


def audit_client(request: HttpRequest | None) -> dict:
    """Where a request came from, as `audit_event`'s ip_address and user_agent: worked out once for many events."""
    if request is None:
        return {}
    return {"ip_address": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", ""),
            "api_token": _api_token(request)}


def _api_token(request) -> dict | None:
    """Through the API: the token the request came with (accounts' ApiToken names itself), for the audit trail."""
    token = getattr(request, "auth", None)
    return token.audit_label() if hasattr(token, "audit_label") else None


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Write events built by `audit_event` in one INSERT, in their order (so their ids follow it)."""
    # No batch size: one statement whatever the count (a list holds at most a few thousand transitions).
    return AuditEvent.objects.bulk_create(events) if events else []
