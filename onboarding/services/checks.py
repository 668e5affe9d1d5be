"""Checking entered people against the partner's directory, as soon as they are typed (R2, R7)."""

from dataclasses import dataclass

from accounts.models import User
from core.emails import InvalidEmail, domain_of, normalize_email
from directory_sync.selectors import LookupKind, recipient_lookup
from onboarding.errors import DOMAIN_OF_ANOTHER_PARTNER, DOMAIN_OF_VENDOR
from onboarding.models import CheckResult
from onboarding.selectors import OTHER_PARTNER, foreign_domains
from partners.models import Partner


@dataclass(frozen=True)
class RowCheck:
    """The label of one entered address, and the primary address to use instead where there is one."""

    result: str  # a CheckResult value, or "invalid"
    message: str
    suggestion: str = ""

    @property
    def is_ok(self) -> bool:
        return self.result == CheckResult.PRIMARY


_LOOKUP_RESULTS = {
    LookupKind.PRIMARY: CheckResult.PRIMARY,
    LookupKind.ALIAS: CheckResult.ALIAS,
    LookupKind.FORWARDING: CheckResult.FORWARDING,
    LookupKind.DISABLED: CheckResult.DISABLED,
    LookupKind.CONFLICT: CheckResult.CONFLICT,
    LookupKind.NOT_FOUND: CheckResult.NOT_FOUND,
}


def foreign_domain_message(email: str, why: str) -> str:
    """Why an address of another partner's (or the vendor's) domain cannot be requested; never naming whose."""
    return (DOMAIN_OF_ANOTHER_PARTNER if why == OTHER_PARTNER else DOMAIN_OF_VENDOR).format(email=email)


def row_check(
    *, partner: Partner, email: str, earlier: list[str] | tuple[str, ...] = (), foreign: dict[str, str] | None = None,
) -> RowCheck:
    """Label one address: primary ✓, alias of P, forwarding for P, disabled, not found yet, already has
    access, duplicate in this list, or of another account's domain. `earlier` holds the addresses of the
    rows above it; `foreign` the list's foreign_domains, when the caller looked them up for every row."""
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return RowCheck("invalid", "not an email address")
    if address in {_safe_normalise(e) for e in earlier}:
        return RowCheck(CheckResult.DUPLICATE, "already in this list")
    domain = domain_of(address)
    if foreign is None:
        foreign = foreign_domains(partner=partner, domains=[domain])
    if domain in foreign:
        return RowCheck(CheckResult.FOREIGN_DOMAIN, foreign_domain_message(email.strip(), foreign[domain]))
    # Only this partner's people: whether an address has access elsewhere is none of its business.
    existing = User.objects.filter(email=address, is_active=True, partner=partner).first()
    if existing is not None:
        return RowCheck(CheckResult.HAS_ACCESS, "already has portal access")
    answer = recipient_lookup(partner_id=partner.pk, address=address)
    result = _LOOKUP_RESULTS.get(answer.kind, CheckResult.NOT_FOUND)
    who = answer.person.display_name if answer.person else ""
    if result == CheckResult.PRIMARY:
        return RowCheck(result, f"primary address of {who}")
    if result in (CheckResult.ALIAS, CheckResult.FORWARDING):
        kind = "alias of" if result == CheckResult.ALIAS else "forwarding for"
        return RowCheck(result, f"{kind} {who}: use {answer.primary_address}", answer.primary_address)
    if result == CheckResult.DISABLED:
        return RowCheck(result, f"{who} is disabled in the directory")
    if result == CheckResult.CONFLICT:
        return RowCheck(result, "claimed by several people in the directory")
    if partner.is_msp:
        return RowCheck(result, "not found in the directory yet: the invite waits until the person appears")
    return RowCheck(result, "not in a directory (reseller accounts are set up directly)")


def rows_check(*, partner: Partner, emails: list[str]) -> list[RowCheck | None]:
    """The label of every row of a list, in order (None for a row without an address); a row
    repeating an earlier one is labelled a duplicate."""
    checks: list[RowCheck | None] = []
    earlier: list[str] = []
    domains = {domain_of(address) for address in map(_safe_normalise, emails) if "@" in address}
    foreign = foreign_domains(partner=partner, domains=domains)  # one look-up for the whole list
    for email in emails:
        checks.append(row_check(partner=partner, email=email, earlier=earlier, foreign=foreign) if email else None)
        if email:
            earlier.append(email)
    return checks


def _safe_normalise(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmail:
        return email
