"""Who may sign in, how, and what two-factor asks of them: the reads of R5 to R8 in one place.

The route (which page comes after the email address) depends on the address's domain only, so
it says nothing about whether the address exists. Whether a person may sign in is decided by
`signin_user`: an active portal user whose address is, on an account with a directory, the
primary address of an enabled person (R7) — aliases, forwarding addresses, disabled and removed
people never sign in.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers import base64url_to_bytes

from accounts.models import BackupCode, TOTPDevice, User
from core.emails import InvalidEmail, normalize_email
from directory_sync.models import DirectoryUserStatus
from directory_sync.selectors import recipient_lookup
from partners.models import AuthMethod, TwoFactorPolicy
from partners.selectors import account_settings_for_address, account_settings_of

# What the two-factor policy asks of a person now (see `two_factor_requirement`).
REQUIRED, GRACE, OPTIONAL, OFF = "required", "grace", "optional", "off"


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
    account = account_settings_for_address(email=email)
    if account is None:
        return SignInRoute(AuthMethod.CLOUD_PASSWORD)
    return SignInRoute(account.auth_method, account.sso_enforced, account.partner_id)


SIGNIN_USERS = "portal_signin_users"  # request attribute: signin_user's answers, by address


def signin_user(*, email: str, request=None) -> User | None:
    """The portal user who may sign in with this address, or None — for every reason alike.

    With the request, the answer is kept on it: each backend of a sign-in asks, the database once.
    The user comes with their account's settings and directory connection, and whether they have an
    authenticator (`has_device` reads that instead of asking again).
    """
    if request is not None:
        answers = request.__dict__.setdefault(SIGNIN_USERS, {})
        if email not in answers:
            answers[email] = signin_user(email=email)
        return answers[email]
    try:
        normalised = normalize_email(email)
    except InvalidEmail:
        return None
    user = (
        User.objects.filter(email=normalised, is_active=True)
        .select_related("partner__account_settings", "partner__directory_connection")
        .annotate(has_confirmed_device=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
                  | Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True)))
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


def active_user(*, pk) -> User | None:
    """The active portal user with this id, or None — asked on every request of a session.

    A person their directory disabled or removed is refused at once, in the same single query, even before
    the offboarding that follows a sync has ended their access; so is everyone of a partner switched off."""
    return (
        User.objects.filter(pk=pk, is_active=True)
        .filter(Q(directory_user__isnull=True) | Q(directory_user__status=DirectoryUserStatus.ACTIVE))
        .filter(Q(partner__isnull=True) | Q(partner__is_active=True))  # a partner switched off: its people too
        .first()
    )


def pending_signin_user(*, pk) -> User | None:
    """The active portal user waiting to give their second factor, with their account's settings (read next)."""
    return User.objects.filter(pk=pk, is_active=True).select_related("partner__account_settings").first()


def user_by_pk(*, pk) -> User | None:
    return User.objects.filter(pk=pk).first()


def inactive_partner_user(*, pk, partner_id: int, email: str) -> User | None:
    """The not yet active portal user with this id, partner and (normalised) address, or None."""
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return None
    return User.objects.filter(pk=pk, partner_id=partner_id, email=address, is_active=False).first()


def user_by_email(*, email: str) -> User | None:
    """The portal user (active or not) whose normalised address this is, with their partner, or None."""
    try:
        return User.objects.filter(email=normalize_email(email)).select_related("partner").first()
    except InvalidEmail:
        return None


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


# -- password reset ------------------------------------------------------------------------------


def reset_user(*, uidb64: str) -> User | None:
    """The person a reset link names, while they still sign in with a cloud password; else None."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, UnicodeDecodeError):  # a bad base64 padding is a ValueError too
        return None
    user = active_user(pk=pk)
    if user is None or signin_user(email=user.email) is None or not may_use_cloud_password(user):
        return None
    return user


def reset_code_check(*, code: str) -> tuple[User, str, str] | None:
    """The person, uid and token of a reset code (`uid.token`, as mailed), while it is valid; else None."""
    uidb64, _, token = "".join(code.split()).partition(".")
    user = reset_user(uidb64=uidb64) if uidb64 and token else None
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user, uidb64, token


# -- two-factor --------------------------------------------------------------------------------


def has_device(user: User) -> bool:
    """Whether the person has a second factor: a confirmed authenticator app or a passkey / security key (known
    already when `signin_user` found them)."""
    known = getattr(user, "has_confirmed_device", None)
    if known is not None:
        return known
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists() or has_passkey(user)


def has_authenticator_app(user: User) -> bool:
    """Whether the person has a confirmed authenticator app (TOTP)."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def has_passkey(user: User) -> bool:
    """Whether the person has a confirmed passkey or security key (WebAuthn credential)."""
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def passkeys_of(user: User) -> list[WebAuthnCredential]:
    """The person's passkeys and security keys, oldest first (for their security page)."""
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk"))


def passkey_of(*, user: User, pk) -> WebAuthnCredential | None:
    """One of the person's own passkeys, or None (someone else's is never found)."""
    return WebAuthnCredential.objects.filter(user=user, pk=pk, confirmed=True).first()


def passkey_owner_by_credential_id(raw_id: str) -> User | None:
    """The owner of the credential a (refused) assertion names by its base64url id, or None: for the audit."""
    try:
        return WebAuthnCredential.get_by_credential_id(base64url_to_bytes(raw_id)).user
    except (WebAuthnCredential.DoesNotExist, TypeError, ValueError):
        return None


def phishing_resistant_required(user: User) -> bool:
    """Whether only a passkey or security key counts as this person's second factor.

    Vendor staff: VENDOR_STAFF_PHISHING_RESISTANT. A partner's people: the account's "require a passkey or
    security key", which applies where its two-factor policy is *required* (with optional or off, nobody is
    made to have a second factor, so nobody is made to have this one).
    """
    if user.partner_id is None:
        return settings.VENDOR_STAFF_PHISHING_RESISTANT
    policy = account_settings_of(user.partner)
    return policy.two_factor_policy == TwoFactorPolicy.REQUIRED and policy.two_factor_phishing_resistant


def has_required_factor(user: User) -> bool:
    """Whether the person has the kind of second factor their policy asks for (a passkey, where phishing-
    resistant; else any)."""
    return has_passkey(user) if phishing_resistant_required(user) else has_device(user)


def passkey_required_now(user: User, device) -> bool:
    """Whether a session verified with `device` (request.user.otp_device; None when not verified) must register a
    passkey before anything else: the policy requires a phishing-resistant factor of this person now (not in a
    grace period) and the session was not verified with a passkey or security key — a code given before the
    policy was switched on, or by someone who had no passkey yet, proved who they are but is not that factor."""
    if isinstance(device, WebAuthnCredential):
        return False
    return phishing_resistant_required(user) and two_factor_requirement(user) == REQUIRED


def codes_accepted_at_signin(user: User) -> bool:
    """Whether an app code or backup code may give the second factor at sign-in.

    Under a phishing-resistant policy, not for someone who has a passkey; someone who has none yet still
    proves themselves with their code, and is then sent to register a passkey (flow.complete_sign_in).
    """
    return not (phishing_resistant_required(user) and has_passkey(user))


def passwordless_signin_allowed(user: User) -> bool:
    """Whether the person may sign in with a passkey alone (both factors at once).

    Only where a password of the portal is their first factor: people of cloud-password accounts and vendor
    staff. Never for domain-password or single sign-on accounts (their provider must see each sign-in), nor
    anyone who may not sign in at all (inactive, access ended, disabled in their directory, an alias, a
    partner switched off) — the same `signin_user` and `active_user` checks as every other sign-in.
    """
    if not user.is_active or user.access_ended:
        return False
    if signin_user(email=user.email) is None or active_user(pk=user.pk) is None:
        return False
    return user_auth_method(user) == AuthMethod.CLOUD_PASSWORD


def two_factor_requirement(user: User, *, now: datetime.datetime | None = None) -> str:
    """What the policy asks of this person now: REQUIRED, GRACE (required soon), OPTIONAL or OFF.

    Account managers and admins always need a second factor. A partner whose policy is
    *required* gives each person its grace period, counted from the first sign-in under it.
    """
    if user.partner_id is None:
        return REQUIRED
    policy = account_settings_of(user.partner)
    if policy.two_factor_policy == TwoFactorPolicy.OFF:
        return OFF
    if policy.two_factor_policy == TwoFactorPolicy.OPTIONAL:
        return OPTIONAL
    if has_required_factor(user):
        return REQUIRED
    if user.two_factor_required_since is None:
        return GRACE
    deadline = user.two_factor_required_since + datetime.timedelta(days=policy.two_factor_grace_days)
    return GRACE if (now or timezone.now()) < deadline else REQUIRED


def grace_deadline(user: User) -> datetime.datetime | None:
    """When a person in their grace period must have enrolled."""
    if user.partner_id is None or user.two_factor_required_since is None:
        return None
    days = account_settings_of(user.partner).two_factor_grace_days
    return user.two_factor_required_since + datetime.timedelta(days=days)


def pending_device(*, user: User, device_id) -> TOTPDevice | None:
    """The person's authenticator being enrolled (not yet confirmed) with this id, or None."""
    return TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()


def backup_codes_left(user: User) -> int:
    """How many unused backup codes the person has."""
    return BackupCode.objects.filter(device__user=user, device__confirmed=True).count()
