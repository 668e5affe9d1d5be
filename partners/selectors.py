"""Reads of partners that every app above shares: agreements (R1) and who may download them, account
settings, slugs."""

from core.emails import InvalidEmail, domain_of, normalize_email
from partners.errors import AgreementMissing
from partners.models import AccountDomain, AccountSettings, Agreement, Partner


def current_agreement(*, partner: Partner) -> Agreement | None:
    """The latest signed agreement of a partner if it is still valid (R1), else None."""
    latest = partner.agreements.order_by("-signed_at").first()
    if latest is None or not latest.is_current():
        return None
    return latest


def agreement_is_current(*, signed_at, valid_until) -> bool:
    """Whether an agreement known only by its dates (e.g. annotated on a partner) gates R1 open:
    Agreement.is_current's rule."""
    return signed_at is not None and Agreement(signed_at=signed_at, valid_until=valid_until).is_current()


def agreement_require(*, partner: Partner) -> None:
    """R1: nothing is requested, approved or sent for a partner without a signed, current agreement."""
    if current_agreement(partner=partner) is None:
        raise AgreementMissing(partner)


def account_settings_of(partner: Partner) -> AccountSettings:
    """A partner's account settings; the defaults (cloud passwords) when none were saved."""
    try:
        return partner.account_settings
    except AccountSettings.DoesNotExist:
        return AccountSettings(partner=partner)


def account_settings_for_address(*, email: str) -> AccountSettings | None:
    """The settings of the active partner account whose mail domain the address has, or None."""
    try:
        domain = domain_of(normalize_email(email))
    except InvalidEmail:
        return None
    account = (
        AccountDomain.objects.filter(domain=domain, partner__is_active=True)
        .select_related("partner__account_settings")
        .first()
    )
    return account_settings_of(account.partner) if account else None


def active_account_settings(*, partner_id: int | None) -> AccountSettings | None:
    """The saved account settings of an active partner, or None."""
    if partner_id is None:
        return None
    return AccountSettings.objects.filter(partner_id=partner_id, partner__is_active=True).first()


def partner_by_slug(*, slug: str) -> Partner | None:
    return Partner.objects.filter(slug=slug).first()


def partner_slugs(*, limit: int = 20) -> list[str]:
    """The first slugs in order, to name the known ones when a slug is wrong."""
    return list(Partner.objects.order_by("slug").values_list("slug", flat=True)[:limit])


# Role values of accounts.User.role. partners sits below accounts and may not import its Role enum;
# tests/partners/test_documents.py checks that these stay equal to it.
ROLE_ADMIN = "admin"


def agreement_document_for(*, user, agreement_id: int) -> Agreement | None:
    """The agreement whose document this person may download, or None (the view answers 404, never 403).

    Admins may download any agreement's document; an account manager those of the partners they manage;
    a partner admin their own partner's. Partner staff, everyone else and anonymous visitors none, and
    no one a document that failed the PDF check.
    """
    if not (user.is_authenticated and user.is_active):
        return None
    agreements = Agreement.objects.select_related("partner").exclude(document="").filter(document_problem="")
    if user.role == ROLE_ADMIN:
        scoped = agreements
    elif user.is_vendor_staff:
        scoped = agreements.filter(partner__account_manager_id=user.pk)
    elif user.is_partner_admin and user.partner_id is not None:
        scoped = agreements.filter(partner_id=user.partner_id)
    else:
        return None
    return scoped.filter(pk=agreement_id).first()
