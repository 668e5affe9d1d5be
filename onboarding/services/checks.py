"""Checking entered people against the partner's directory, as soon as they are typed (R2, R7)."""

from dataclasses import dataclass

from django.utils.translation import gettext

from accounts.models import User
from core.emails import InvalidEmail, domain_of, normalize_email
from directory_sync.selectors import LookupKind, LookupResult, recipient_lookups
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
    rows above it; `foreign` the list's foreign_domains, when the caller looked them up already. A fixed
    number of queries however long `earlier` is."""
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return RowCheck("invalid", gettext("not an email address"))
    if address in {_safe_normalise(e) for e in earlier}:
        return RowCheck(CheckResult.DUPLICATE, gettext("already in this list"))
    if foreign is None:
        foreign = foreign_domains(partner=partner, domains=[domain_of(address)])
    return _labels(partner=partner, rows=[(email, address)], foreign=foreign)[0]


def rows_check(*, partner: Partner, emails: list[str]) -> list[RowCheck | None]:
    """The label of every row of a list, in order (None for a row without an address); a row
    repeating an earlier one is labelled a duplicate. A fixed number of queries whatever the list's
    length: one for the domains, one for who has access, the directory's look-up for all addresses."""
    addresses = [_normalised_or_none(email) for email in emails]
    foreign = foreign_domains(partner=partner, domains={domain_of(a) for a in addresses if a})
    checks: list[RowCheck | None] = [None] * len(emails)
    to_label: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for index, (email, address) in enumerate(zip(emails, addresses, strict=True)):
        if not email:
            continue
        if address is None:
            checks[index] = RowCheck("invalid", gettext("not an email address"))
        elif address in seen:
            checks[index] = RowCheck(CheckResult.DUPLICATE, gettext("already in this list"))
        else:
            seen.add(address)
            to_label.append((index, email, address))
    labels = _labels(partner=partner, rows=[(email, address) for _, email, address in to_label], foreign=foreign)
    for (index, _, _), label in zip(to_label, labels, strict=True):
        checks[index] = label
    return checks


def _labels(*, partner: Partner, rows: list[tuple[str, str]], foreign: dict[str, str]) -> list[RowCheck]:
    """The labels of distinct, valid (entered, normalised) addresses: two queries and the directory's look-up."""
    if not rows:
        return []
    asked = {address for _, address in rows if domain_of(address) not in foreign}
    # Only this partner's people: whether an address has access elsewhere is none of its business.
    with_access = set(
        User.objects.filter(email__in=asked, is_active=True, partner=partner).values_list("email", flat=True)
    ) if asked else set()
    answers = recipient_lookups(partner_id=partner.pk, addresses=asked - with_access) if asked - with_access else {}
    labels = []
    for email, address in rows:
        domain = domain_of(address)
        if domain in foreign:
            labels.append(RowCheck(CheckResult.FOREIGN_DOMAIN, foreign_domain_message(email.strip(), foreign[domain])))
        elif address in with_access:
            labels.append(RowCheck(CheckResult.HAS_ACCESS, gettext("already has portal access")))
        else:
            labels.append(_directory_label(partner, answers[address]))
    return labels


def _directory_label(partner: Partner, answer: LookupResult) -> RowCheck:
    result = _LOOKUP_RESULTS.get(answer.kind, CheckResult.NOT_FOUND)
    who = answer.person.display_name if answer.person else ""
    if result == CheckResult.PRIMARY:
        return RowCheck(result, gettext("primary address of {who}").format(who=who))
    if result in (CheckResult.ALIAS, CheckResult.FORWARDING):
        text = (gettext("alias of {who}: use {primary}") if result == CheckResult.ALIAS
                else gettext("forwarding for {who}: use {primary}"))
        return RowCheck(result, text.format(who=who, primary=answer.primary_address), answer.primary_address)
    if result == CheckResult.DISABLED:
        return RowCheck(result, gettext("{who} is disabled in the directory").format(who=who))
    if result == CheckResult.CONFLICT:
        return RowCheck(result, gettext("claimed by several people in the directory"))
    if partner.is_msp:
        return RowCheck(result, gettext("not found in the directory yet: the invite waits until the person appears"))
    return RowCheck(result, gettext("not in a directory (reseller accounts are set up directly)"))


def _normalised_or_none(email: str) -> str | None:
    try:
        return normalize_email(email) if email else None
    except InvalidEmail:
        return None


def _safe_normalise(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmail:
        return email
