"""Who may sign in, and how: the rules R5 to R8 in one place.

The route (which page comes after the email address) depends on the address's domain only, so
it says nothing about whether the address exists. Whether a person may sign in is decided by
`signin_user`: an active portal user whose address is, on an account with a directory, the
primary address of an enabled person (R7) — aliases, forwarding addresses, disabled and removed
people never sign in.
"""

from dataclasses import dataclass

from accounts.models import User
from directory_sync.selectors import recipient_lookup
from onboarding.models import AccountDomain, AccountSettings, AuthMethod
from portal.emails import InvalidEmail, domain_of, normalize_email


@dataclass(frozen=True)
class SignInRoute:
    """What the sign-in page does after the email address step."""

    method: str  # an AuthMethod value
    sso_enforced: bool = False
    partner_id: int | None = None

    @property
    def offers_sso(self) -> bool:
        return self.method == AuthMethod.SSO

    @property
    def asks_domain_password(self) -> bool:
        return self.method == AuthMethod.DOMAIN_PASSWORD


def signin_route(*, email: str) -> SignInRoute:
    """The route for an address, decided by its domain alone (no account enumeration)."""
    try:
        domain = domain_of(normalize_email(email))
    except InvalidEmail:
        return SignInRoute(AuthMethod.CLOUD_PASSWORD)
    account = (
        AccountDomain.objects.filter(domain=domain, partner__is_active=True)
        .select_related("partner__account_settings")
        .first()
    )
    if account is None:
        return SignInRoute(AuthMethod.CLOUD_PASSWORD)
    settings = account_settings_of(account.partner)
    return SignInRoute(settings.auth_method, settings.sso_enforced, account.partner_id)


def account_settings_of(partner) -> AccountSettings:
    """A partner's account settings; the defaults (cloud passwords) when none were saved."""
    try:
        return partner.account_settings
    except AccountSettings.DoesNotExist:
        return AccountSettings(partner=partner)


def signin_user(*, email: str) -> User | None:
    """The portal user who may sign in with this address, or None — for every reason alike."""
    try:
        normalised = normalize_email(email)
    except InvalidEmail:
        return None
    user = (
        User.objects.filter(email=normalised, is_active=True)
        .select_related("partner__account_settings", "partner__directory_connection")
        .first()
    )
    if user is None or user.partner_id is None:
        return user  # vendor staff sign in with their portal account
    if not user.partner.is_active:
        return None
    # Where the account has a directory, it decides (R7): only a primary address of an enabled person.
    if hasattr(user.partner, "directory_connection") and not recipient_lookup(
        partner_id=user.partner_id, address=normalised
    ).is_primary:
        return None
    return user


def user_auth_method(user: User) -> str:
    """How this person proves who they are: their account's method; vendor staff use cloud passwords."""
    if user.partner_id is None:
        return AuthMethod.CLOUD_PASSWORD
    return account_settings_of(user.partner).auth_method


def may_use_cloud_password(user: User) -> bool:
    """Cloud passwords are for cloud-password accounts, and SSO accounts that do not enforce SSO."""
    method = user_auth_method(user)
    if method == AuthMethod.CLOUD_PASSWORD:
        return True
    return method == AuthMethod.SSO and not account_settings_of(user.partner).sso_enforced


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
    from axes.utils import reset  # axes' models load with the app registry; import on use

    from portal.audit import audit_record

    removed = reset(username=user.email)
    audit_record(actor=actor, action="signin.unlocked", target=user, partner=user.partner, request=request,
                 data={"attempts_cleared": removed})
    return removed
