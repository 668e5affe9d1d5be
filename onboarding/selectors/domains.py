"""Whose domain an address is: the vendor's, another partner's, or the partner's own."""

from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext

from accounts.models import VENDOR_ROLES, User
from core.emails import InvalidEmail, domain_of, normalize_email
from partners.models import AccountDomain, Partner

OTHER_PARTNER, VENDOR = "other_partner", "vendor"


def vendor_domains() -> set[str]:
    """The vendor's own mail domains: VENDOR_EMAIL_DOMAINS when set, else the domains of vendor staff's addresses."""
    configured = getattr(settings, "VENDOR_EMAIL_DOMAINS", None) or ()
    if isinstance(configured, str):  # "vendor.example,vendor-mail.example", as the environment gives it
        configured = configured.split(",")
    domains = set()
    for domain in configured:
        try:
            domains.add(domain_of(normalize_email(f"postmaster@{domain.strip()}")))
        except InvalidEmail:
            continue  # a typo in the setting must not take the request pages down
    if domains:
        return domains
    # Former staff too: their addresses' domain is still the vendor's.
    return {domain_of(email) for email in User.objects.filter(role__in=VENDOR_ROLES).values_list("email", flat=True)}


def foreign_domains(*, partner: Partner, domains: Iterable[str]) -> dict[str, str]:
    """Which of these (normalised) domains the partner may not ask for people at, and why: OTHER_PARTNER (an
    account domain of another partner) or VENDOR. A domain of the partner's own account is always its own."""
    wanted = set(domains)
    if not wanted:
        return {}
    owners = dict(AccountDomain.objects.filter(domain__in=wanted).values_list("domain", "partner_id"))
    refused = {domain: OTHER_PARTNER for domain, owner in owners.items() if owner != partner.pk}
    unowned = wanted - set(owners)
    if unowned:
        refused |= dict.fromkeys(unowned & vendor_domains(), VENDOR)
    return refused


def vendor_domains_refused(partner: Partner):
    """A directory_sync DomainCheck for `partner`'s people (typed in the portal, or pushed by SCIM): the vendor's own
    domains, which only onboarding knows, are refused; vendor staff are never people of a partner's account."""

    def check(domains: set[str]) -> dict[str, str]:
        foreign = foreign_domains(partner=partner, domains=domains)
        reason = gettext("the vendor's own domain, not the partner's")
        return {domain: reason for domain, why in foreign.items() if why == VENDOR}

    return check
