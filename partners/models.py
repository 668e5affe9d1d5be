"""Partners and their accounts: the account's sign-in settings, mail domains and signed agreements.

Sign-in, directory sync and onboarding all stand on these. The tables keep the names they had
when these models lived in onboarding (`db_table`), so that existing databases migrate in place.
"""

import datetime
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField, HttpsURLField
from core.timezones import portal_today
from partners.storage import agreement_document_name, agreement_storage, agreement_version_document_name


class PartnerKind(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    MSP = "msp", _("Managed service provider")


class Partner(models.Model):
    """A reseller or MSP, and through it its account: the partner's tenant and its people."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, help_text=_("Short name used in commands and URLs."))
    kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    # The one loop between layers, at model level only: a partner names its account manager (a user),
    # and a user names the partner they belong to (accounts.User.partner). Both are string
    # references resolved by Django's app registry; no module imports the other upward.
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="managed_partners",
        limit_choices_to={"role": "account_manager"},
    )
    is_active = models.BooleanField(default=True)
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE,
        help_text=_("The language of the mails to its people before they choose their own (invitations, say)."),
    )
    # Partner admins of this partner who may accept a new agreement version in the portal. Only active
    # partner admins of this partner count (partners.selectors.agreement_signers): someone moved to another
    # role keeps the row, not the right. Changed through partners.services.agreement_signer_set.
    authorised_signers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="signer_for_partners",
        help_text=_("Partner admins of this partner who may accept a new agreement version in the portal."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_partner"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="partner_slug_unique"),
            models.CheckConstraint(condition=Q(slug=Lower("slug")), name="partner_slug_lowercase"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_msp(self) -> bool:
        return self.kind == PartnerKind.MSP


class AuthMethod(models.TextChoices):
    CLOUD_PASSWORD = "cloud_password", _("Cloud password (stored by the portal)")
    DOMAIN_PASSWORD = "domain_password", _("Domain password (checked against the directory)")
    SSO = "sso", _("Single sign-on")


class SsoProtocol(models.TextChoices):
    """How an account's single sign-on talks to its identity provider."""

    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")


class TwoFactorPolicy(models.TextChoices):
    OFF = "off", _("Off")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


class AccountSettings(models.Model):
    """How the people of a partner's account sign in (R5, R6, R8)."""

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, primary_key=True, related_name="account_settings"
    )
    auth_method = models.CharField(max_length=24, choices=AuthMethod.choices, default=AuthMethod.CLOUD_PASSWORD)
    self_service_reset = models.BooleanField(
        default=True, help_text=_("Cloud-password users may reset their own password by email link.")
    )
    reset_contact = models.CharField(
        max_length=254,
        blank=True,
        help_text=_("Whom people should contact for a password reset when self-service reset is off."),
    )
    two_factor_policy = models.CharField(
        max_length=16, choices=TwoFactorPolicy.choices, default=TwoFactorPolicy.OPTIONAL
    )
    two_factor_grace_days = models.PositiveSmallIntegerField(
        default=7, help_text=_("Days a person may still sign in without a second factor once it is required.")
    )
    two_factor_phishing_resistant = models.BooleanField(
        _("require a passkey or security key"), default=False,
        help_text=_("The second factor must be a passkey or security key (WebAuthn): authenticator app codes and "
                    "backup codes are no longer accepted at sign-in."),
    )
    sso_protocol = models.CharField(
        _("single sign-on protocol"), max_length=8, choices=SsoProtocol.choices, default=SsoProtocol.OIDC
    )
    sso_issuer = HttpsURLField(blank=True, help_text=_("OpenID Connect issuer (discovery at /.well-known/)."))
    sso_client_id = models.CharField(max_length=255, blank=True)
    sso_client_secret = EncryptedTextField(blank=True, help_text=_("Stored encrypted; never shown back."))
    sso_scopes = models.CharField(max_length=255, default="openid email profile")
    sso_enforced = models.BooleanField(default=False, help_text=_("People of this account may not use passwords."))
    saml_idp_metadata_url = HttpsURLField(
        _("identity provider metadata URL"), blank=True,
        help_text=_("Where the identity provider publishes its SAML metadata; fetched again when it changes."),
    )
    saml_idp_metadata_xml = models.TextField(
        _("identity provider metadata"), blank=True,
        help_text=_("The identity provider's SAML metadata (uploaded, or the last copy fetched from its URL)."),
    )
    saml_idp_entity_id = models.CharField(
        _("identity provider entity ID"), max_length=1024, blank=True,
        help_text=_("Which identity provider of the metadata to use; empty when the metadata describes one."),
    )
    saml_email_attribute = models.CharField(
        _("email address attribute"), max_length=255, blank=True,
        help_text=_("The SAML attribute carrying the person's email address; empty: the NameID."),
    )
    saml_want_assertions_signed = models.BooleanField(
        _("require signed assertions"), default=True,
        help_text=_("Refuse an assertion that is not signed by the identity provider."),
    )
    saml_sp_private_key = EncryptedTextField(
        blank=True, editable=False, help_text=_("The portal's key for this account (signing, decryption); encrypted."),
    )
    saml_sp_certificate = models.TextField(
        blank=True, editable=False, help_text=_("The certificate of the portal's key, published in its metadata."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "onboarding_accountsettings"
        verbose_name = "account settings"
        verbose_name_plural = "account settings"
        constraints = [
            models.CheckConstraint(
                condition=(
                    ~Q(auth_method=AuthMethod.SSO)
                    | (Q(sso_protocol=SsoProtocol.OIDC) & ~Q(sso_issuer="") & ~Q(sso_client_id=""))
                    | (Q(sso_protocol=SsoProtocol.SAML) & (~Q(saml_idp_metadata_url="") | ~Q(saml_idp_metadata_xml="")))
                ),
                name="account_sso_needs_provider",
            ),
            models.CheckConstraint(
                condition=Q(sso_enforced=False) | Q(auth_method=AuthMethod.SSO),
                name="account_sso_enforced_needs_sso",
            ),
        ]

    def __str__(self) -> str:
        return f"Account settings of {self.partner}"


class AccountDomain(models.Model):
    """A mail domain of a partner's account: decides which account an address signs in to."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, help_text=_("Normalised: lower-case, IDNA (punycode)."))

    class Meta:
        db_table = "onboarding_accountdomain"
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="account_domain_unique"),
            models.CheckConstraint(condition=Q(domain=Lower("domain")), name="account_domain_lowercase"),
        ]

    def __str__(self) -> str:
        return self.domain


class DocumentProblem(models.TextChoices):
    """Why a stored agreement document is not served (documents stored before the PDF check)."""

    NOT_PDF = "not_pdf", _("Not a PDF (kept, not served)")
    MISSING = "missing", _("File not found")


def _sha256_is_hex(field: str) -> Q:
    return Q(**{f"{field}__regex": r"^[0-9a-f]{64}$"})


class AgreementVersion(models.Model):
    """An agreement text the vendor publishes for one kind of partner; its authorised signers accept it in the
    portal. Published versions do not change: the SHA-256 of the document is what a signer accepts."""

    partner_kind = models.CharField(_("partner kind"), max_length=16, choices=PartnerKind.choices)
    label = models.CharField(_("version"), max_length=32)
    document = models.FileField(
        _("document"), upload_to=agreement_version_document_name, storage=agreement_storage,
        help_text=_("The agreement as a PDF. It is stored privately under a random name."),
    )
    document_sha256 = models.CharField(_("document SHA-256"), max_length=64, editable=False)
    valid_for_days = models.PositiveIntegerField(
        _("valid for (days)"), null=True, blank=True,
        help_text=_("How long an acceptance of this version is valid. Empty: until superseded."),
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("agreement version")
        verbose_name_plural = _("agreement versions")
        constraints = [
            models.UniqueConstraint(fields=["partner_kind", "label"], name="agreement_version_label_unique_per_kind"),
            models.CheckConstraint(condition=_sha256_is_hex("document_sha256"), name="agreement_version_sha256_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.get_partner_kind_display()} agreement v{self.label}"

    def valid_until_from(self, day: datetime.date) -> datetime.date | None:
        """The last day an acceptance on `day` is valid, or None (valid until superseded)."""
        return day + datetime.timedelta(days=self.valid_for_days) if self.valid_for_days else None

    @property
    def document_filename(self) -> str:
        return Agreement(version=self.label).document_filename


class SignedVia(models.TextChoices):
    PORTAL = "portal", _("Accepted in the portal")
    RECORDED = "recorded", _("Signed elsewhere, recorded by an admin")


class Agreement(models.Model):
    """A signed partner agreement (R1). The latest current one gates everything else."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    version = models.CharField(max_length=32)
    signed_at = models.DateTimeField()
    signed_by_name = models.CharField(max_length=200)
    signed_by_email = models.EmailField(blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text=_("Empty: valid until superseded."))
    # A PDF in private storage under a random name, served only by partners:agreement_document.
    document = models.FileField(upload_to=agreement_document_name, storage=agreement_storage, blank=True)
    document_problem = models.CharField(
        max_length=16, choices=DocumentProblem.choices, blank=True,
        help_text=_("Set when a document stored before the PDF check failed it; such a document is not served."),
    )
    recorded_by = models.ForeignKey(  # a string reference to the user model, like account_manager's
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_via = models.CharField(
        _("signed"), max_length=16, choices=SignedVia.choices, default=SignedVia.RECORDED, editable=False
    )
    agreement_version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="acceptances",
        verbose_name=_("published version"),
        help_text=_("The published version this signature accepts, if it is one of them."),
    )
    signed_by_title = models.CharField(_("signer's title"), max_length=200, blank=True)
    signed_by_user = models.ForeignKey(  # the portal user who accepted it (in the portal only)
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    signed_from_ip = models.GenericIPAddressField(_("signed from"), null=True, blank=True, editable=False)
    document_sha256 = models.CharField(_("document SHA-256"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "onboarding_agreement"
        ordering = ["-signed_at"]
        get_latest_by = "signed_at"
        constraints = [
            models.UniqueConstraint(fields=["partner", "version"], name="agreement_version_unique_per_partner"),
            models.CheckConstraint(
                condition=Q(document_problem="") | ~Q(document=""), name="agreement_document_problem_needs_document"
            ),
            models.CheckConstraint(
                condition=Q(document_sha256="") | _sha256_is_hex("document_sha256"), name="agreement_sha256_hex"
            ),
            # An acceptance in the portal names the published text it accepted and that text's hash. (Not the
            # user: the signer's name, address and IP stay on record if their account is ever deleted.)
            models.CheckConstraint(
                condition=~Q(signed_via=SignedVia.PORTAL)
                | (Q(agreement_version__isnull=False) & ~Q(document_sha256="")),
                name="agreement_portal_acceptance_names_its_version",
            ),
            models.UniqueConstraint(
                fields=["partner", "agreement_version"], name="agreement_version_accepted_once_per_partner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} agreement v{self.version}"

    def clean(self) -> None:
        super().clean()
        if self.valid_until and self.signed_at and self.valid_until < self.signed_at.date():
            raise ValidationError({"valid_until": "An agreement cannot end before it was signed."})

    def is_current(self, *, today: datetime.date | None = None) -> bool:
        today = today or portal_today()
        return self.valid_until is None or self.valid_until >= today

    @property
    def has_document(self) -> bool:
        """Whether there is a document that passed the PDF check, so that it may be downloaded."""
        return bool(self.document) and not self.document_problem

    @property
    def document_filename(self) -> str:
        """The name a download is saved under: agreement-<version>.pdf, the version reduced to safe characters."""
        version = re.sub(r"[^A-Za-z0-9._-]+", "-", self.version).strip(".-") or "document"
        return f"agreement-{version}.pdf"


class AgreementReminder(models.Model):
    """That the reminder `days_before` an agreement's valid_until went out: each is sent once per agreement."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "days_before"], name="agreement_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement}: {self.days_before} days before"


class WebhookEvent(models.TextChoices):
    """What a partner's endpoint can subscribe to; the value is the `type` of the delivered JSON."""

    ITEM_DECIDED = "item.decided", _("A requested person was approved or rejected")
    INVITE_SENT = "invite.sent", _("An invitation or welcome mail was sent")
    INVITE_ACCEPTED = "invite.accepted", _("An invitation was accepted")
    INVITE_FAILED = "invite.failed", _("An invitation could not be sent")
    PERSON_OFFBOARDED = "person.offboarded", _("A person's access ended (deactivated, removed, or by the directory)")


# Not subscribable: what "Send a test event" delivers, whatever the endpoint chose.
WEBHOOK_TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """A partner's HTTPS endpoint that is told of the events it chose, each delivery signed with its secret."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(default=list, help_text=_("The event types delivered to this endpoint."))
    # The signing secret: shown once when the endpoint is made, stored encrypted, sent in no delivery.
    secret = EncryptedTextField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(  # a string reference to the user model, like Partner.account_manager's
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its JSON, and how its tries went (the last response, status and duration)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    # The id the receiver sees (`id` in the JSON): the same on every try, so that it can drop a repeat.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text=_("The beginning of the last response's body."))
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_recent"),
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_delivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "endpoint"], name="webhook_delivery_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id}"
