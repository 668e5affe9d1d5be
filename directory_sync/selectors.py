"""Reads other apps use: the recipient lookup (onboarding and sign-in ask it who an address is), how
to reach an account's directory server (to check a person's password there), and the runs' health."""

import datetime
import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone

from core.emails import InvalidEmail, normalize_email
from directory_sync.models import (
    ADDRESS_IN_EITHER_STATE,
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    SourceKind,
    SyncRun,
    stale_condition,
)
from directory_sync.sources import ldap as ldap_source


class LookupKind(enum.StrEnum):
    PRIMARY = "primary"
    ALIAS = "alias"
    FORWARDING = "forwarding"
    DISABLED = "disabled"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    INVALID = "invalid"


@dataclass(frozen=True)
class LookupResult:
    """What an address is on an account; `person` and `primary_address` name whose it is."""

    kind: LookupKind
    address: str
    person: DirectoryUser | None = None
    primary_address: str = ""
    claimants: tuple[DirectoryUser, ...] = field(default=())

    @property
    def is_primary(self) -> bool:
        """Only this answer lets an address sign in or be invited (R7)."""
        return self.kind == LookupKind.PRIMARY

    def describe(self) -> str:
        """One line for people: the answer, naming the person concerned."""
        who = self.person.display_name if self.person else ""
        match self.kind:
            case LookupKind.PRIMARY:
                return f"primary: {self.address} is the primary address of {who}"
            case LookupKind.ALIAS:
                return f"alias of {who}: use the primary address {self.primary_address}"
            case LookupKind.FORWARDING:
                return f"forwarding for {who}: use the primary address {self.primary_address}"
            case LookupKind.DISABLED:
                return f"disabled: {who} is disabled in the directory"
            case LookupKind.CONFLICT:
                names = ", ".join(f"{p.display_name} ({p.external_id})" for p in self.claimants)
                return f"conflict: {self.address} is claimed by several people: {names}"
            case LookupKind.INVALID:
                return f"invalid: {self.address!r} is not an email address"
        return f"not found: no one on this account has {self.address}"


def recipient_lookup(*, partner_id: int, address: str) -> LookupResult:
    """Who `address` is on the partner's account, with the same normalisation the sync applies."""
    return recipient_lookups(partner_id=partner_id, addresses=[address])[address]


def recipient_lookups(*, partner_id: int, addresses: Iterable[str]) -> dict[str, LookupResult]:
    """`recipient_lookup` for many addresses at once, keyed by each address exactly as given.

    Two queries whatever the count: the addresses' rows with their people, then the primary
    addresses of the people found by an alias or forwarding address.
    """
    results: dict[str, LookupResult] = {}
    normalised: dict[str, str] = {}
    for address in addresses:
        try:
            normalised[address] = normalize_email(address)
        except InvalidEmail:
            results[address] = LookupResult(LookupKind.INVALID, address)
    if not normalised:
        return results
    claims: dict[str, list[DirectoryAddress]] = defaultdict(list)
    for row in (
        DirectoryAddress.objects.filter(partner_id=partner_id, address__in=set(normalised.values()))
        .filter(ADDRESS_IN_EITHER_STATE)  # served by the two partial indexes on (partner, address)
        .exclude(directory_user__status=DirectoryUserStatus.REMOVED)
        .select_related("directory_user")
        .order_by("directory_user__display_name", "directory_user_id")
    ):
        claims[row.address].append(row)
    found_by_other = {
        rows[0].directory_user_id
        for rows in claims.values()
        if len(rows) == 1 and not rows[0].in_conflict and rows[0].kind != AddressKind.PRIMARY
    }
    primaries = _primary_addresses(found_by_other)
    for address, wanted in normalised.items():
        results[address] = _answer(wanted, claims.get(wanted, ()), primaries)
    return results


def _primary_addresses(person_ids: set[int]) -> dict[int, str]:
    """The primary address of each of these people (one query; none when there is no one to ask about)."""
    if not person_ids:
        return {}
    return dict(
        DirectoryAddress.objects.filter(directory_user_id__in=person_ids, kind=AddressKind.PRIMARY)
        .order_by()
        .values_list("directory_user_id", "address")
    )


def _answer(address: str, rows: Sequence[DirectoryAddress], primaries: dict[int, str]) -> LookupResult:
    """The answer for one normalised address from the rows that claim it (removed people left out)."""
    if not rows:
        return LookupResult(LookupKind.NOT_FOUND, address)
    if len(rows) > 1 or rows[0].in_conflict:
        return LookupResult(LookupKind.CONFLICT, address, claimants=tuple(r.directory_user for r in rows))
    row = rows[0]
    person = row.directory_user
    primary_address = row.address if row.kind == AddressKind.PRIMARY else primaries.get(person.pk, "")
    if person.status == DirectoryUserStatus.DISABLED:
        return LookupResult(LookupKind.DISABLED, address, person, primary_address)
    if row.kind == AddressKind.PRIMARY:
        return LookupResult(LookupKind.PRIMARY, address, person, primary_address)
    kind = LookupKind.ALIAS if row.kind == AddressKind.ALIAS else LookupKind.FORWARDING
    return LookupResult(kind, address, person, primary_address)


@dataclass(frozen=True)
class DirectoryAccess:
    """How to reach an account's directory server: where, with which options, and how to find one person.

    Every handle to it is set up the same way (`options`), whether it syncs or binds as a person.
    """

    connection: DirectoryConnection = field(repr=False)

    @property
    def uri(self) -> str:
        return self.connection.uri

    @property
    def start_tls(self) -> bool:
        """Whether a handle must send StartTLS before it binds (never for ldaps://)."""
        return ldap_source.uses_start_tls(self.connection)

    @property
    def bind_dn(self) -> str:
        return self.connection.bind_dn

    @property
    def bind_password(self) -> str:
        return self.connection.bind_password

    @property
    def base_dn(self) -> str:
        return self.connection.base_dn

    def options(self, *, network_timeout: float, operation_timeout: float) -> AbstractContextManager[dict[int, object]]:
        """The handle's LDAP options in the order they must be set; the CA file they name lasts for the block."""
        return ldap_source.connection_options(
            self.connection, network_timeout=network_timeout, operation_timeout=operation_timeout
        )

    def person_filter(self, *, external_id: str) -> str:
        """The search filter that finds the person the sync stored under this stable id (no user input)."""
        return ldap_source.person_filter(self.connection, external_id=external_id)

    def check_service_bind(self, *, network_timeout: float, operation_timeout: float) -> None:
        """Connect, bind as the account's service account and close again; raise DirectoryUnavailable when the
        directory does not answer, DirectoryError when it refuses."""
        with ldap_source.connect(
            self.connection, network_timeout=network_timeout, operation_timeout=operation_timeout
        ):
            pass


def directory_access(*, partner_id: int) -> DirectoryAccess | None:
    """The account's directory server, or None for an account without one (no connection, or CSV uploads)."""
    connection = DirectoryConnection.objects.filter(partner_id=partner_id, kind=SourceKind.LDAP).first()
    return DirectoryAccess(connection) if connection is not None else None


def sync_run_counts(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """How many runs are running, and how many of those are stale (a crashed worker the dispatcher has
    not noticed yet): for health checks and dashboards. One query over the lock's partial index."""
    counts = SyncRun.objects.running().aggregate(
        running=Count("pk"), stale=Count("pk", filter=stale_condition(now or timezone.now()))
    )
    return {"running": counts["running"], "stale": counts["stale"]}
