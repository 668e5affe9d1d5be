"""Sign-in's writes: lifting a lockout; and the key under which django-axes counts failures.

Who may sign in, and how, is read in accounts.selectors.
"""

from axes.utils import reset

from accounts.models import User
from core.audit import audit_record
from core.emails import InvalidEmail, normalize_email


def axes_username(request, credentials) -> str:
    """django-axes counts failures per normalised address, so `A@x` and `a@X` share one counter."""
    # Django's failure signal names the address "username"; axes' own lockout check names it after
    # USERNAME_FIELD ("email"). Both must reach the same counter.
    credentials = credentials or {}
    # A single sign-on callback carries no address: count it against the one typed at sign-in,
    # never against one counter shared by everyone.
    session = getattr(request, "session", None) or {}
    raw = credentials.get("username") or credentials.get("email") or session.get("sso_login_hint", "")
    try:
        return normalize_email(raw)
    except InvalidEmail:
        return raw.strip().lower()


def signin_unlock(*, user: User, actor, request=None) -> int:
    """Lift a lockout of a person's address (django-axes); an account manager's or admin's act."""
    removed = reset(username=user.email)
    audit_record(actor=actor, action="signin.unlocked", target=user, partner=user.partner, request=request,
                 data={"attempts_cleared": removed})
    return removed
