"""The audit trail (append-only events of who did what to which object), the outbox of mail, mail preferences."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import PortalError


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditLogIsAppendOnly(PortalError):
    """Raised on any attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    """One state change: the actor (None for the system), the action, its object and partner.

    Append-only: the model refuses updates and deletes, and a database trigger refuses them
    too (created by portal's migration 0002, from when this model lived there). The actor (a
    reference without a database constraint, with their address copied at the time) and the
    partner (a plain id) let the trail outlive the rows it talks about.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254, blank=True, help_text=_("The actor's email at the time."))
    action = models.CharField(max_length=64, db_index=True, help_text=_("What happened, e.g. invite.sent."))
    # A plain id, not a foreign key: the audit trail is the bottom layer and knows no partner model.
    partner_id = models.BigIntegerField(null=True, blank=True, help_text=_("The partner the event concerns."))
    target_type = models.CharField(max_length=100, blank=True, help_text=_("app_label.model of the object."))
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        db_table = "portal_auditevent"  # its name from when it lived in portal: existing trails stay
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner_id", "created_at"], name="audit_partner_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            # The admin's search: exact values and beginnings (LIKE 'term%'), which an index in the
            # database's collation does not serve on PostgreSQL; varchar_pattern_ops does.
            models.Index(fields=["actor_label"], opclasses=["varchar_pattern_ops"], name="audit_actor_prefix"),
            models.Index(fields=["action"], opclasses=["varchar_pattern_ops"], name="audit_action_prefix"),
            models.Index(fields=["target_label"], opclasses=["varchar_pattern_ops"], name="audit_target_label_prefix"),
            models.Index(fields=["ip_address"], name="audit_ip_address"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.target_label}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class MailState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Sending failed")


class OutboundMail(models.Model):
    """A notification the portal sends, recorded in the transaction that decided it.

    A worker sends it after commit in two steps — marked *sending* (committed), then handed to
    SMTP, then marked *sent* — so a crash at any point leaves a row that says what to do: a
    sweeper queues pending mail whose message was lost and sending mail whose worker died. Mail
    carrying a secret (password-reset links) is not recorded.
    """

    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # Empty for mail recorded before mails had an HTML part: it goes out as text alone.
    html = models.TextField(blank=True, default="", help_text=_("The HTML alternative of the body."))
    template = models.CharField(max_length=100, help_text=_("Which mail this is (its template)."))
    partner_id = models.BigIntegerField(null=True, blank=True, help_text=_("The partner the mail concerns."))
    state = models.CharField(max_length=16, choices=MailState.choices, default=MailState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(default=timezone.now, help_text=_("When it may be tried (again)."))
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbound mail"
        verbose_name_plural = "outbound mail"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state=MailState.SENT) | Q(sent_at__isnull=False), name="outbound_mail_sent_has_time"
            ),
        ]
        indexes = [
            # The admin's search by recipient: an address or its beginning (see AuditEvent's indexes).
            models.Index(fields=["to"], opclasses=["varchar_pattern_ops"], name="outbound_mail_to_prefix"),
            # The sweeper's question, over the few rows still on their way.
            models.Index(
                fields=["next_attempt_at"], condition=Q(state__in=[MailState.PENDING, MailState.SENDING]),
                name="outbound_mail_due",
            ),
            # Operators' counts and partner pages ask only for mail not (yet) sent: a small index.
            models.Index(
                fields=["state", "partner_id"],
                condition=Q(state__in=[MailState.PENDING, MailState.SENDING, MailState.FAILED]),
                name="outbound_mail_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class MailPreference(models.Model):
    """A person's choice to get, or not, one kind of optional notification (core.mail's `MailKind`).

    Only choices are stored: a person without a row for a kind gets that kind's default. The user is
    referenced by string (core is the bottom layer and imports no user model).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_preferences")
    kind = models.CharField(max_length=64, help_text=_("Which notification (a MailKind's key)."))
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="mail_preference_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {'on' if self.enabled else 'off'}"


class IdempotencyRecord(models.Model):
    """The answer to an API request made with an Idempotency-Key: the same key from the same token gets the same
    answer again instead of a second effect (core.api.idempotency), for API_IDEMPOTENCY_HOURS."""

    token_id = models.BigIntegerField(help_text=_("The API token the request came with (a plain id)."))
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text=_("SHA-256 of the method, path and body."))
    status = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token_id", "key"], name="idempotency_key_once_per_token")]

    def __str__(self) -> str:
        return f"{self.key} → {self.status}"
