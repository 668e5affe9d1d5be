"""Reads other apps use: the recipient lookup (onboarding and sign-in ask it who an address is)."""

import enum
from dataclasses import dataclass, field

from core.emails import InvalidEmail, normalize_email
from directory_sync.models import AddressKind, DirectoryAddress, DirectoryUser, DirectoryUserStatus


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
    try:
        normalised = normalize_email(address)
    except InvalidEmail:
        return LookupResult(LookupKind.INVALID, address)
    rows = list(
        DirectoryAddress.objects.filter(partner_id=partner_id, address=normalised)
        .exclude(directory_user__status=DirectoryUserStatus.REMOVED)
        .select_related("directory_user")
        .order_by("directory_user__display_name", "directory_user_id")
    )
    if not rows:
        return LookupResult(LookupKind.NOT_FOUND, normalised)
    if len(rows) > 1 or rows[0].in_conflict:
        return LookupResult(LookupKind.CONFLICT, normalised, claimants=tuple(r.directory_user for r in rows))
    row = rows[0]
    person = row.directory_user
    primary = row if row.kind == AddressKind.PRIMARY else person.addresses.filter(kind=AddressKind.PRIMARY).first()
    primary_address = primary.address if primary else ""
    if person.status == DirectoryUserStatus.DISABLED:
        return LookupResult(LookupKind.DISABLED, normalised, person, primary_address)
    if row.kind == AddressKind.PRIMARY:
        return LookupResult(LookupKind.PRIMARY, normalised, person, primary_address)
    kind = LookupKind.ALIAS if row.kind == AddressKind.ALIAS else LookupKind.FORWARDING
    return LookupResult(kind, normalised, person, primary_address)
