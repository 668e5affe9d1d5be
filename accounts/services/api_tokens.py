"""API tokens: made by partner admins, account managers and admins for their own tooling, revoked by them (or an
admin); each shown once. Looking a token up for a request is `api_token_authenticate`."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.errors import (
    API_TOKEN_LIFETIME,
    API_TOKEN_NAME_REQUIRED,
    API_TOKEN_NOT_ALLOWED,
    ApiTokenRefused,
)
from accounts.models import ApiToken, ApiTokenScope, Role, User
from accounts.models.tokens import new_token, token_hash, token_prefix
from accounts.selectors import active_user
from core.audit import audit_event, audit_record, audit_record_many

MAY_MAKE_TOKENS = (Role.PARTNER_ADMIN, Role.ACCOUNT_MANAGER, Role.ADMIN)
LAST_USE_EVERY = datetime.timedelta(minutes=1)  # how often a token in use writes its last use


def may_make_api_tokens(user) -> bool:
    return bool(user.is_authenticated and user.role in MAY_MAKE_TOKENS)


def api_token_create(*, user: User, name: str, scope: str, days: int, actor, request=None) -> tuple[ApiToken, str]:
    """A new token for `user`, and the token itself (shown once; only its hash is kept)."""
    if not may_make_api_tokens(user):
        raise ApiTokenRefused(API_TOKEN_NOT_ALLOWED)
    name = " ".join((name or "").split())
    if not name:
        raise ApiTokenRefused(API_TOKEN_NAME_REQUIRED)
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ApiTokenRefused(API_TOKEN_LIFETIME.format(days=settings.API_TOKEN_MAX_DAYS))
    scope = ApiTokenScope(scope)
    raw, prefix = new_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=prefix, secret_hash=token_hash(raw), scope=scope,
            expires_at=timezone.now() + datetime.timedelta(days=days))
        audit_record(actor=actor, action="api_token.created", target=token, partner_id=user.partner_id,
                     request=request, data={"name": token.name, "scope": scope.value, "prefix": prefix,
                                            "expires_at": token.expires_at.isoformat()})
    return token, raw


def api_token_revoke(*, token: ApiToken, actor, request=None) -> ApiToken:
    """Stop a token at once; revoking a revoked token changes nothing."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="api_token.revoked", target=token, partner_id=token.user.partner_id,
                         request=request, data={"name": token.name, "prefix": token.prefix})
    return token


def api_token_authenticate(*, raw: str, ip_address: str | None = None) -> ApiToken | None:
    """The usable token `raw` is, with its person (still active), or None; notes its last use (once a minute)."""
    prefix = token_prefix(raw)
    if not prefix:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not token.matches(raw) or not token.is_usable:
        return None
    user = active_user(pk=token.user_id)
    if user is None:
        return None
    token.user = user
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_address)
        token.last_used_at, token.last_used_ip = now, ip_address
    return token


def api_tokens_revoke_of(*, user_ids: list[int], why: str, actor=None, request=None) -> int:
    """Stop every usable token of these people at once (their access ended, their password or second factor was
    reset, they may no longer make tokens): one UPDATE, and an audit event per person who had any. Returns how many
    tokens stopped."""
    usable = ApiToken.objects.filter(user_id__in=user_ids, revoked_at=None, expires_at__gt=timezone.now())
    holders = list(usable.values("user_id", "user__partner_id").distinct())
    revoked = usable.update(revoked_at=timezone.now())
    if revoked:
        audit_record_many([
            audit_event(actor=actor, action="api_token.revoked_all", partner_id=holder["user__partner_id"],
                        data={"user": holder["user_id"], "why": why}, request=request)
            for holder in holders])
    return revoked
