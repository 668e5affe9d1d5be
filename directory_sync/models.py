"""Directory connections, the people and addresses of each account, and the record of sync runs.

This app knows the account (partner) it syncs for and nothing of requests, invites or sign-in.
"""

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField


class SourceKind(models.TextChoices):
    LDAP = "ldap", _("LDAP / Active Directory")
    CSV = "csv", _("CSV upload (no directory)")
    SCIM = "scim", _("SCIM provisioning (pushed by an identity provider)")


class Preset(models.TextChoices):
    ACTIVE_DIRECTORY = "active-directory", _("Active Directory")
    OPENLDAP = "openldap", _("OpenLDAP")


class DirectoryConnection(models.Model):
    """Where an account's people come from: an LDAP/AD server, or CSV uploads. One per account."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, related_name="directory_connection"
    )
    kind = models.CharField(max_length=8, choices=SourceKind.choices, default=SourceKind.LDAP)
    preset = models.CharField(max_length=24, choices=Preset.choices, default=Preset.ACTIVE_DIRECTORY)
    uri = models.CharField(
        "LDAP URI", max_length=255, blank=True, help_text=_("ldap://host (with StartTLS) or ldaps://host")
    )
    start_tls = models.BooleanField(_("StartTLS"), default=True, help_text=_("For ldap:// URIs."))
    ca_certificate = models.TextField(_("CA certificate (PEM)"), blank=True)
    bind_dn = models.CharField(_("bind DN"), max_length=500, blank=True)
    bind_password = EncryptedTextField(blank=True, help_text=_("Stored encrypted; never shown back."))
    base_dn = models.CharField(_("base DN"), max_length=500, blank=True)
    user_filter = models.CharField(max_length=1000, blank=True, help_text=_("Empty: the preset's filter."))
    page_size = models.PositiveIntegerField(default=1000)
    attribute_overrides = models.JSONField(
        default=dict, blank=True, help_text='Overrides of the preset\'s mapping, e.g. {"changed": "modifyTimestamp"}.'
    )
    incremental_every_minutes = models.PositiveIntegerField(
        default=15, help_text=_("Scheduled incremental runs; 0 turns the schedule off.")
    )
    full_every_hours = models.PositiveIntegerField(
        default=24, help_text=_("A full run catches removals; 0 turns the schedule off.")
    )
    scim_token_hash = models.CharField(
        _("SCIM token (SHA-256)"), max_length=64, blank=True, editable=False,
        help_text=_("The identity provider's bearer token, kept only as its hash; made with “New SCIM token”."),
    )
    scim_token_created_at = models.DateTimeField(_("SCIM token made at"), null=True, blank=True, editable=False)
    removal_brake_percent = models.PositiveSmallIntegerField(
        default=10, help_text=_("Refuse a run that would remove or disable more than this share, unless forced.")
    )
    is_enabled = models.BooleanField(default=True)
    high_water_mark = models.CharField(
        max_length=64, blank=True, help_text=_("Change marker of the last successful run (incremental start).")
    )
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sync_requested_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a run was last queued (keeps the scheduler from queueing twice).")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[SourceKind.CSV, SourceKind.SCIM]) | (~Q(uri="") & ~Q(base_dn="")),
                name="directory_ldap_needs_uri_and_base",
            ),
            # A token names one connection: the hash is what SCIM requests are authenticated by.
            models.UniqueConstraint(
                fields=["scim_token_hash"], condition=~Q(scim_token_hash=""), name="directory_scim_token_unique"
            ),
            models.CheckConstraint(
                condition=Q(page_size__gte=1) & Q(page_size__lte=10000), name="directory_page_size_range"
            ),
            models.CheckConstraint(
                condition=Q(removal_brake_percent__lte=100), name="directory_brake_is_a_percentage"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == SourceKind.CSV:
            return f"{self.partner} (CSV)"
        if self.kind == SourceKind.SCIM:
            return f"{self.partner} (SCIM)"
        return f"{self.partner} ({self.uri})"

    def awaits_queued_run(self, now: datetime.datetime) -> bool:
        """Whether a run queued for this connection may still be waiting in the queue (do not queue another).

        `sync_requested_at` is when the run was queued, or when its retry is due. A free worker
        starts a queued run within seconds; one that has neither started nor succeeded a stale
        time after that was lost (with a killed worker, or by the broker), so it holds nothing back.
        """
        requested = self.sync_requested_at
        if requested is None or requested <= now - stale_after():
            return False
        return not (self.last_sync_at and self.last_sync_at >= requested)


class DirectoryUserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")
    REMOVED = "removed", _("Removed")


class DirectoryUser(models.Model):
    """A person on a partner's account, matched on the directory's stable id (never the DN).

    Disabled and removed people stay recorded (for the audit trail and R9), but are not valid.
    """

    # No separate index on partner: the unique (partner, external_id) index serves it.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="directory_users", db_index=False
    )
    external_id = models.CharField(
        max_length=255, help_text=_("objectGUID / entryUUID (canonical text form), or the CSV key.")
    )
    dn = models.TextField(_("DN"), blank=True)
    display_name = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=DirectoryUserStatus.choices, default=DirectoryUserStatus.ACTIVE)
    content_hash = models.CharField(max_length=64, blank=True, help_text=_("Hash of the mapped fields."))
    source_hash = models.CharField(
        max_length=64, blank=True,
        help_text=_("Hash of the raw directory entry: unchanged entries are not mapped again."),
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a sync last wrote this person (unchanged people are not rewritten).")
    )

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="directory_user_unique_stable_id"),
        ]
        indexes = [models.Index(fields=["partner", "status"], name="directory_user_partner_status")]

    def __str__(self) -> str:
        return self.display_name or self.external_id

    @property
    def is_valid(self) -> bool:
        return self.status == DirectoryUserStatus.ACTIVE


class AddressKind(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    ALIAS = "alias", _("Alias")
    FORWARDING = "forwarding", _("Forwarding")


# A condition that is always true, and what lets a query by (partner, address) use an index. The two
# indexes on (partner, address) are partial, one per conflict state (DirectoryAddress.Meta), and
# PostgreSQL uses a partial index only for a query whose condition implies the index's: with one arm
# for each it probes both (a BitmapOr of two index scans); without, it reads every account's
# addresses (20-100 ms at 245,000). `in_conflict IN (false, true)` would not do: the planner matches
# neither predicate to it. One full index instead would cost every address the sync writes a third
# index entry (measured: 30-65 % longer inserting a sync's addresses). The writer's SQL says the same
# as ADDRESS_IN_EITHER_STATE_SQL.
ADDRESS_IN_EITHER_STATE = Q(in_conflict=False) | Q(in_conflict=True)
ADDRESS_IN_EITHER_STATE_SQL = "(NOT {alias}in_conflict OR {alias}in_conflict)"


class DirectoryAddress(models.Model):
    """An address a directory user claims. Only a primary address can sign in or be invited (R7).

    An address claimed by several people of one account is kept for each of them with
    `in_conflict` set: it then belongs to none of them until only one claims it again.
    """

    # The composite unique indexes below serve the foreign-key lookups; separate FK indexes
    # would only slow the sync's writes down.
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+", db_index=False)
    directory_user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="addresses", db_index=False
    )
    address = models.CharField(_("address (normalised)"), max_length=254)
    display_address = models.CharField(_("address"), max_length=254)
    kind = models.CharField(max_length=16, choices=AddressKind.choices)
    in_conflict = models.BooleanField(default=False, help_text=_("Also claimed by someone else on this account."))

    class Meta:
        ordering = ["kind", "address"]
        verbose_name_plural = "directory addresses"
        # Constraints, not unique=True: Django would add a varchar_pattern_ops LIKE index the
        # portal never uses, and maintaining it cost about a third of the sync's write time.
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "address"],
                condition=Q(in_conflict=False),
                name="directory_address_unique_per_account",
            ),
            models.UniqueConstraint(fields=["directory_user", "address"], name="directory_address_once_per_person"),
            models.UniqueConstraint(
                fields=["directory_user"],
                condition=Q(kind=AddressKind.PRIMARY),
                name="directory_user_one_primary_address",
            ),
            models.CheckConstraint(condition=Q(address=Lower("address")), name="directory_address_normalised"),
        ]
        indexes = [
            # Conflicts are rare: this index holds only them, so checking a batch for them is cheap. With
            # the unique index above it answers every lookup by address (ADDRESS_IN_EITHER_STATE).
            models.Index(
                fields=["partner", "address"], condition=Q(in_conflict=True), name="directory_address_conflicts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_address} ({self.kind})"


class ScimIdentity(models.Model):
    """What the identity provider calls a person it provisioned by SCIM: the resource id, userName, externalId.

    The person themself (name, addresses, active) is the DirectoryUser, written as a sync writes people. A person
    the provider deletes keeps their DirectoryUser (removed, for the audit trail and R9) and loses this row.
    """

    scim_id = models.UUIDField(_("SCIM id"), default=uuid.uuid4, unique=True, editable=False)
    # No separate index on partner: the unique (partner, user_name) index serves it.
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+", db_index=False)
    directory_user = models.OneToOneField(DirectoryUser, on_delete=models.CASCADE, related_name="scim")
    user_name = models.CharField(_("userName (normalised)"), max_length=300)
    display_user_name = models.CharField(_("userName"), max_length=300)
    external_id = models.CharField(_("externalId"), max_length=255, blank=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("SCIM identity")
        verbose_name_plural = _("SCIM identities")
        constraints = [
            models.UniqueConstraint(fields=["partner", "user_name"], name="scim_user_name_unique_per_account"),
            models.CheckConstraint(condition=Q(user_name=Lower("user_name")), name="scim_user_name_normalised"),
        ]
        indexes = [models.Index(fields=["partner", "external_id"], name="scim_identity_external_id")]

    def __str__(self) -> str:
        return self.display_user_name


class SyncMode(models.TextChoices):
    FULL = "full", _("Full")
    INCREMENTAL = "incremental", _("Incremental")
    CSV = "csv", _("CSV import")


class SyncStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Refused by the removal brake")


def stale_after() -> datetime.timedelta:
    """How long a running run may go without a heartbeat before it is taken as abandoned (its worker died)."""
    return datetime.timedelta(seconds=settings.SYNC_HEARTBEAT_SECONDS * settings.SYNC_STALE_BEATS)


def stale_condition(now: datetime.datetime) -> Q:
    """The runs (of those running) whose last sign of life is older than the stale time at `now`."""
    cutoff = now - stale_after()
    # A row without a heartbeat (made by hand or by a test) counts from its start; it must not hold the lock for ever.
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


class SyncRunQuerySet(models.QuerySet):
    """Runs by their hold on the lock: the running ones, and those of them whose worker is gone."""

    def running(self) -> "SyncRunQuerySet":
        """The runs holding their connection's lock (served by the lock's partial unique index)."""
        return self.filter(status=SyncStatus.RUNNING)

    def stale(self, *, now: datetime.datetime) -> "SyncRunQuerySet":
        """Running runs that stopped beating: their worker is gone and they hold the lock for nothing."""
        return self.running().filter(stale_condition(now))


class SyncRun(models.Model):
    """One run of a connection: what it saw and changed, how long it took, and how it ended."""

    connection = models.ForeignKey(DirectoryConnection, on_delete=models.CASCADE, related_name="runs")
    mode = models.CharField(max_length=16, choices=SyncMode.choices)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    dry_run = models.BooleanField(default=False)
    forced = models.BooleanField(default=False, help_text=_("Started with the removal brake overridden."))
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages_done = models.PositiveIntegerField(default=0)
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    disabled = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Last sign of life of a running run; a stale one is taken as abandoned.")
    )

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"
        constraints = [
            # The "one run per connection at a time" lock lives in the database, not the broker.
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status=SyncStatus.RUNNING),
                name="sync_run_one_running_per_connection",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="sync_run_finishes_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status=SyncStatus.RUNNING) | Q(finished_at__isnull=False),
                name="sync_run_ended_has_finish_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} run of {self.connection.partner} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class ProblemKind(models.TextChoices):
    SKIPPED = "skipped", _("Entry skipped")
    IGNORED_VALUE = "ignored_value", _("Value ignored")
    CONFLICT = "conflict", _("Address conflict")


class SyncProblem(models.Model):
    """An entry a run skipped (with its reason), or an address several people claimed."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="problems")
    kind = models.CharField(max_length=16, choices=ProblemKind.choices)
    external_id = models.CharField(max_length=255, blank=True)
    dn = models.TextField(_("DN / row"), blank=True)
    address = models.CharField(max_length=254, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.dn or self.external_id or self.address}"
