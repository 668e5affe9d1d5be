"""Invites by id, by token and by state (tokens are stored only as their SHA-256)."""

import hashlib

from django.db.models import Count

from onboarding.models import Invite, InviteState


def invite_counts() -> dict[str, int]:
    """How many invites wait to be sent, are being sent, and failed (for operators; sent ones are not counted)."""
    unsent = [InviteState.PENDING, InviteState.SENDING, InviteState.FAILED]
    counts = dict.fromkeys((state.value for state in unsent), 0)
    rows = Invite.objects.filter(state__in=unsent).order_by().values("state").annotate(n=Count("pk"))
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def invite_by_pk(*, pk) -> Invite | None:
    return Invite.objects.filter(pk=pk).first() if pk is not None else None


def invite_by_token(token: str) -> Invite | None:
    """The invite a link names (only its hash is stored), or None."""
    if not token or len(token) > 100:
        return None
    return Invite.objects.select_related("partner", "user", "item").filter(token_hash=token_hash(token)).first()


def invite_by_token_hash(digest: str | None) -> Invite | None:
    """The invite whose token hashes to `digest` (what a browser that opened a link keeps), or None."""
    if not digest:
        return None
    return Invite.objects.select_related("partner", "user", "item").filter(token_hash=digest).first()


def token_hash(token: str) -> str:
    """How an invite's token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
