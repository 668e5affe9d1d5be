"""Portal-user requests and their items, and invites."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import PARTNER_ROLES, Role
from onboarding.validators import validate_plain_text
from partners.models import Partner


class RequestSource(models.TextChoices):
    FORM = "form", _("Form")
    CSV = "csv", _("CSV upload")
    ON_BEHALF = "on_behalf", _("Entered by the account manager")
    API = "api", _("REST API")


class PortalUserRequest(models.Model):
    """A list of people a partner needs portal access for (R2)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="requests")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_requests"
    )
    source = models.CharField(max_length=16, choices=RequestSource.choices)
    received_from = models.EmailField(
        blank=True, help_text=_("For lists entered on the partner's behalf: who sent it.")
    )
    note = models.TextField(blank=True, validators=[validate_plain_text])
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            # A partner's lists, newest first, a page at a time (the partner page's "Lists").
            models.Index(fields=["partner", "submitted_at", "id"], name="request_partner_newest"),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} from {self.partner}"


class ItemState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    AWAITING_VALIDATION = "awaiting_validation", _("Awaiting recipient validation")
    VALIDATED = "validated", _("Validated")
    INVALID_ADDRESS = "invalid_address", _("Invalid address")
    INVITED = "invited", _("Invited")
    ACCOUNT_CREATED = "account_created", _("Account created")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


# Items still on their way: waiting for a decision, for the directory, or for a corrected address.
PENDING_STATES = (ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION, ItemState.INVALID_ADDRESS)
# Ended without access, and may be asked for again (the primary instead of an alias, after an expiry or a rejection).
ASKABLE_STATES = (ItemState.INVALID_ADDRESS, ItemState.EXPIRED, ItemState.REJECTED)


class CheckResult(models.TextChoices):
    """How an entered address looked against the partner's directory when it was checked."""

    PRIMARY = "primary", _("Primary address")
    ALIAS = "alias", _("Alias")
    FORWARDING = "forwarding", _("Forwarding address")
    DISABLED = "disabled", _("Disabled in the directory")
    CONFLICT = "conflict", _("Claimed by several people")
    NOT_FOUND = "not_found", _("Not found yet")
    HAS_ACCESS = "has_access", _("Already has portal access")
    DUPLICATE = "duplicate", _("Duplicate in this list")
    # Set at submission for nothing (such rows are refused); set later when the domain is added to another
    # partner's account while the item is still open (onboarding.services.domains).
    FOREIGN_DOMAIN = "foreign_domain", _("Domain of another account: check before approving")


class RequestItem(models.Model):
    """One person on a request, and where they are on the way to portal access."""

    request = models.ForeignKey(PortalUserRequest, on_delete=models.CASCADE, related_name="items")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="request_items")
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    email = models.CharField(_("email (normalised)"), max_length=254)
    display_email = models.CharField(_("email"), max_length=254)
    # The role the person gets when their access starts (a partner admin may make more partner admins).
    role = models.CharField(
        max_length=32, choices=[(role.value, role.label) for role in PARTNER_ROLES], default=Role.PARTNER_STAFF,
        db_default=Role.PARTNER_STAFF,  # rows written outside the ORM (bulk loads) are partner staff too
    )
    state = models.CharField(max_length=24, choices=ItemState.choices, default=ItemState.SUBMITTED)
    check_result = models.CharField(max_length=16, choices=CheckResult.choices, blank=True)
    suggested_email = models.CharField(
        max_length=254, blank=True, help_text=_("The person's primary address, when an alias was asked for.")
    )
    rejection_reason = models.TextField(blank=True, validators=[validate_plain_text])
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    awaiting_until = models.DateTimeField(
        null=True, blank=True, help_text=_("When a held item (awaiting validation) expires.")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="request_items",
        help_text=_("The portal account this item led to."),
    )
    # A person asked for again (the primary instead of an alias, after an expiry or a rejection) is a new item of a
    # new list, going through the review queue; it points back at the item it follows up.
    replaces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups",
        help_text=_("The earlier item this one asks again for."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["request", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "email"], name="request_item_unique_email_per_list"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="request_item_email_normalised"),
            models.CheckConstraint(
                condition=~Q(state=ItemState.REJECTED) | ~Q(rejection_reason=""),
                name="request_item_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(state=ItemState.SUBMITTED) | Q(decided_at__isnull=False),
                name="request_item_decision_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state=ItemState.AWAITING_VALIDATION) | Q(awaiting_until__isnull=False),
                name="request_item_held_has_expiry",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "state"], name="request_item_partner_state"),
            # The partner page's lists, newest first, a page at a time: everyone requested, and those still on
            # their way (a small index: the pending few of a partner's many).
            models.Index(fields=["partner", "created_at", "id"], name="request_item_partner_newest"),
            models.Index(
                fields=["partner", "created_at", "id"], condition=Q(state__in=PENDING_STATES),
                name="request_item_partner_pending",
            ),
            # The review queue walks lists oldest first and takes each one's items still to decide, in order.
            models.Index(
                fields=["request", "id"], condition=Q(state=ItemState.SUBMITTED), name="request_item_to_review"
            ),
            # The admin's search: an address or its beginning (a prefix needs the pattern operator class on
            # PostgreSQL; the beginning of a name has its index in migration 0006, PostgreSQL only).
            models.Index(fields=["email"], opclasses=["varchar_pattern_ops"], name="request_item_email_search"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.display_email}>"


class InviteKind(models.TextChoices):
    INVITE = "invite", _("Invite (MSP)")
    WELCOME = "welcome", _("Welcome (reseller)")


class InviteState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Sending failed")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


OPEN_INVITE_STATES = (InviteState.PENDING, InviteState.SENDING, InviteState.SENT, InviteState.FAILED)
# The link of an open invite's current token works whatever the mail's state: a person may click it
# before the sent mark lands, or after SMTP reported a failure for a message that did arrive. A
# sending or sent invite always has its token (constraints); a pending or failed one has one only
# once a try claimed it (never claimed, or resent since: no link).
LINK_STATES = OPEN_INVITE_STATES


class Invite(models.Model):
    """A single-use link to portal access. Only the SHA-256 of its token is stored.

    Sent in two steps like the outbox's mail: claimed (*sending*, committed, with the nonce its
    token is derived from), handed to SMTP, then marked *sent*. The token is an HMAC of the
    nonce, so a retry after a crash mails the same link again instead of one the database no
    longer knows.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="invites")
    item = models.ForeignKey(
        RequestItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="invites"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="invites"
    )
    kind = models.CharField(max_length=16, choices=InviteKind.choices, default=InviteKind.INVITE)
    email = models.CharField(_("email (normalised)"), max_length=254)
    display_email = models.CharField(_("email"), max_length=254)
    name = models.CharField(max_length=200, blank=True, validators=[validate_plain_text])
    state = models.CharField(max_length=16, choices=InviteState.choices, default=InviteState.PENDING)
    # NULL until the first send: several unsent invites must not collide on the unique hash.
    token_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    # Random, set by the claim; the token is derived from it with the SECRET_KEY (never stored).
    token_nonce = models.CharField(max_length=64, blank=True, editable=False)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        default=timezone.now,
        help_text=_("When its mail may be tried (again); while sending, when the claim goes stale."),
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    renewal_requested_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The person asked for a new invite from an expired link.")
    )
    reminded_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the one reminder of this link went out (cleared by a resend).")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=Q(state__in=OPEN_INVITE_STATES),
                name="invite_one_open_per_person_and_partner",
            ),
            models.UniqueConstraint(fields=["token_hash"], name="invite_token_hash_unique"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="invite_email_normalised"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="invite_expires_after_creation"),
            models.CheckConstraint(
                condition=~Q(state=InviteState.SENT) | (Q(sent_at__isnull=False) & Q(token_hash__isnull=False)),
                name="invite_sent_has_token_and_time",
            ),
            models.CheckConstraint(
                condition=~Q(state=InviteState.SENDING) | (Q(token_hash__isnull=False) & ~Q(token_nonce="")),
                name="invite_sending_has_token",
            ),
            models.CheckConstraint(
                condition=~Q(state=InviteState.ACCEPTED) | Q(accepted_at__isnull=False),
                name="invite_accepted_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state=InviteState.REVOKED) | Q(revoked_at__isnull=False),
                name="invite_revoked_has_time",
            ),
        ]
        indexes = [
            # The sweeper's question, over the few invites still on their way.
            models.Index(
                fields=["next_attempt_at"], condition=Q(state__in=[InviteState.PENDING, InviteState.SENDING]),
                name="invite_due",
            ),
            # How many invites of each state a partner has (its page's counts, the partner list's times to access).
            models.Index(fields=["partner", "state"], name="invite_partner_state"),
            # The partner page's invites (all but the accepted), newest first, a page at a time.
            models.Index(
                fields=["partner", "created_at", "id"], condition=~Q(state=InviteState.ACCEPTED),
                name="invite_partner_not_accepted",
            ),
            # The admin's search, as for request items.
            models.Index(fields=["email"], opclasses=["varchar_pattern_ops"], name="invite_email_search"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.display_email}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INVITE_STATES

    def is_expired(self, *, now: datetime.datetime | None = None) -> bool:
        return self.state == InviteState.EXPIRED or (self.is_open and (now or timezone.now()) >= self.expires_at)

    def can_accept(self, *, now: datetime.datetime | None = None) -> bool:
        has_link = self.state in (InviteState.SENDING, InviteState.SENT) or self.token_hash is not None
        return self.state in LINK_STATES and has_link and not self.is_expired(now=now)
