"""The portal's user: the email address is the identity, stored normalised, one role each."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from core.emails import InvalidEmail, normalize_email
from core.timezones import validate_time_zone


class Role(models.TextChoices):
    PARTNER_STAFF = "partner_staff", _("Partner staff")
    PARTNER_ADMIN = "partner_admin", _("Partner admin")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    ADMIN = "admin", _("Administrator")


PARTNER_ROLES = (Role.PARTNER_STAFF, Role.PARTNER_ADMIN)


class AccessEnded(models.TextChoices):
    """Why an account that had access no longer has it (empty while it has, or has never had, access)."""

    DEACTIVATED = "deactivated", _("Deactivated")
    REMOVED = "removed", _("Removed")
    DIRECTORY_DISABLED = "directory_disabled", _("Disabled in the directory")
    DIRECTORY_REMOVED = "directory_removed", _("Removed from the directory")


# Ended by the partner's own directory: the person regains access only once it enables them again.
ENDED_BY_DIRECTORY = (AccessEnded.DIRECTORY_DISABLED, AccessEnded.DIRECTORY_REMOVED)
VENDOR_ROLES = (Role.ACCOUNT_MANAGER, Role.ADMIN)


class UserManager(BaseUserManager):
    """Creates users with a normalised email; looks them up by any spelling of it."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(email=normalize_email(username))

    def _create(self, email: str, password: str | None, **fields) -> "User":
        user = self.model(email=normalize_email(email), display_email=email.strip(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", Role.PARTNER_STAFF)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who can sign in to the portal.

    `email` is the normalised identity (lower-case local part, IDNA domain); `display_email`
    keeps the spelling the person or directory used. Partner staff and partner admins belong
    to exactly one partner; account managers and admins belong to none.
    """

    email = models.CharField(_("email (normalised)"), max_length=254, editable=False)
    display_email = models.CharField(_("email"), max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.PARTNER_STAFF)
    # With Partner.account_manager, the one model-level loop between layers: a user belongs to a
    # partner, a partner is managed by a user. Both are string references, so no module imports
    # the other; partners reaches users only through settings.AUTH_USER_MODEL.
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("The partner a partner staff member or partner admin belongs to."),
    )
    # The person on the partner's account this portal user is (set by recipient validation).
    directory_user = models.OneToOneField(
        "directory_sync.DirectoryUser",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="portal_user",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(_("may use the Django admin"), default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    access_ended = models.CharField(max_length=32, choices=AccessEnded.choices, blank=True)
    access_ended_at = models.DateTimeField(null=True, blank=True)
    # Part of the session hash: raising it ends every session of the person at their next request.
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    two_factor_required_since = models.DateTimeField(
        null=True, blank=True, help_text=_("When a two-factor policy started to apply (grace period start).")
    )
    # An IANA name; blank until the person chooses one (or their browser proposes one): then UTC.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone],
                                 help_text=_("The zone the person's pages and mails show times in (blank: UTC)."))
    # Blank until the person chooses one, or signs in for the first time (then their browser's is kept).
    language = models.CharField(
        max_length=8, blank=True, choices=settings.LANGUAGES,
        help_text=_("The language of the person's pages and mails (blank: their browser's, and their partner's "
                    "in mails)."),
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["email"], name="user_email_unique"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="user_email_is_normalised"),
            models.CheckConstraint(
                condition=(Q(role__in=PARTNER_ROLES) & Q(partner__isnull=False))
                | (Q(role__in=VENDOR_ROLES) & Q(partner__isnull=True)),
                name="user_partner_matches_role",
            ),
            models.CheckConstraint(
                condition=Q(is_staff=False) | Q(role__in=VENDOR_ROLES), name="user_only_vendor_staff_in_admin"
            ),
            models.CheckConstraint(
                condition=Q(access_ended="") | Q(is_active=False, access_ended_at__isnull=False),
                name="user_access_ended_is_inactive",
            ),
        ]
        indexes = [
            # A partner's people, in the order their pages list them (read a page at a time): those with access,
            # and everyone (people with access, with their status).
            models.Index(fields=["partner", "full_name", "email"], name="user_partner_people"),
        ]

    def __str__(self) -> str:
        return self.display_email or self.email

    def clean(self) -> None:
        super().clean()
        if not self.display_email:
            return
        try:
            self.email = normalize_email(self.display_email)
        except InvalidEmail as exc:
            raise ValidationError({"display_email": str(exc)}) from exc
        # `email` is not editable, so model forms skip its unique check: do it here.
        if User.objects.filter(email=self.email).exclude(pk=self.pk).exists():
            raise ValidationError({"display_email": "A user with this email address already exists."})

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's session hash (of the password), with the session generation: raised, every session ends.

        Generation 0 hashes exactly as Django does, so sessions opened before this existed stay valid."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        key_salt = "accounts.User.get_session_auth_hash"
        return salted_hmac(key_salt, f"{self.password}:{self.session_generation}", secret=secret,
                           algorithm="sha256").hexdigest()

    def get_full_name(self) -> str:
        return self.full_name or self.display_email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.display_email

    @property
    def is_vendor_staff(self) -> bool:
        return self.role in VENDOR_ROLES

    @property
    def is_partner_admin(self) -> bool:
        return self.role == Role.PARTNER_ADMIN

    @property
    def is_account_manager(self) -> bool:
        return self.role == Role.ACCOUNT_MANAGER
