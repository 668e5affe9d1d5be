"""Audit events of sign-in: successes, failures, lockouts and unlocks."""

from accounts.models import User
from accounts.selectors import user_by_email
from core.audit import audit_record
from core.emails import InvalidEmail, normalize_email


def _normalised(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmail:
        return (email or "")[:254]


def audit_signin_success(*, request, user: User, method: str, second_factor: str = "") -> None:
    audit_record(actor=user, action="signin.succeeded", target=user, partner=user.partner, request=request,
                 data={"method": method, "second_factor": second_factor})


def audit_signin_failure(*, request, email: str, method: str, reason: str) -> None:
    """A failed attempt; the address as typed (normalised) is kept for the security record only."""
    user = user_by_email(email=email)
    audit_record(actor=None, action="signin.failed", target=user, partner=user.partner if user else None,
                 request=request, data={"email": _normalised(email), "method": method, "reason": reason})


def audit_lockout(*, request, email: str) -> None:
    user = user_by_email(email=email)
    audit_record(actor=None, action="signin.locked_out", target=user, partner=user.partner if user else None,
                 request=request, data={"email": _normalised(email)})
