"""Reads of partners that every app above shares: agreements (R1) and who may download them, account
settings, slugs."""

import dataclasses
import datetime

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext

from core.emails import InvalidEmail, domain_of, normalize_email
from partners.errors import INVITE_BLOCKED_NO_AGREEMENT, AgreementMissing
from partners.models import AccountDomain, AccountSettings, Agreement, AgreementVersion, Partner, SsoProtocol


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


def agreement_invite_blocked(*, partner: Partner) -> str:
    """Why an invitation of this partner cannot be accepted now (its agreement lapsed or was never signed), naming
    who can renew it; "" when it can."""
    if current_agreement(partner=partner) is not None:
        return ""
    names = [signer.get_full_name() for signer in agreement_signers(partner=partner)]
    manager = partner.account_manager
    who = [gettext("your account manager ({name})").format(name=manager.get_full_name()) if manager
           else gettext("your account manager")]
    if names:
        who.insert(0, gettext("your company's authorised signers ({names})").format(names=", ".join(names)))
    return str(INVITE_BLOCKED_NO_AGREEMENT).format(partner=partner, who=gettext(" or ").join(who))


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
ROLE_ACCOUNT_MANAGER = "account_manager"
ROLE_PARTNER_ADMIN = "partner_admin"
ROLE_PARTNER_STAFF = "partner_staff"


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


# --- agreement versions, signers and the partner's agreement page ------------------------------------------


def agreement_latest(*, partner: Partner) -> Agreement | None:
    """The partner's latest signed agreement, current or lapsed (what its agreement page shows first)."""
    return (partner.agreements.select_related("agreement_version", "signed_by_user", "recorded_by")
            .order_by("-signed_at", "-pk").first())


def agreement_history(*, partner: Partner):
    """Every agreement the partner signed, newest first (a list page: read a page at a time)."""
    return (partner.agreements.select_related("agreement_version", "signed_by_user", "recorded_by")
            .order_by("-signed_at", "-pk"))


def agreement_version_latest(*, partner_kind: str) -> AgreementVersion | None:
    """The version published last for a kind of partner: the one its partners are asked to accept."""
    return AgreementVersion.objects.filter(partner_kind=partner_kind).order_by("-published_at", "-pk").first()


def agreement_version_offered(*, partner: Partner) -> AgreementVersion | None:
    """The version the partner's signers are asked to accept: the latest for its kind, unless accepted already."""
    version = agreement_version_latest(partner_kind=partner.kind)
    if version is None or partner.agreements.filter(agreement_version=version).exists():
        return None
    return version


def agreement_signers(*, partner: Partner):
    """The partner's authorised signers who may sign now: active partner admins of this partner only."""
    return partner.authorised_signers.filter(
        partner_id=partner.pk, role=ROLE_PARTNER_ADMIN, is_active=True
    ).order_by("full_name", "email")


def agreement_is_signer(*, user, partner: Partner) -> bool:
    """Whether this person may accept an agreement version for the partner in the portal."""
    if not (user.is_authenticated and user.is_active and user.partner_id == partner.pk):
        return False
    return user.role == ROLE_PARTNER_ADMIN and partner.authorised_signers.filter(pk=user.pk).exists()


def agreement_partner_for(*, user, slug: str) -> Partner | None:
    """The partner whose agreement page this person may see, or None (the view answers 404): its partner admins,
    its account manager and admins. Partner staff and other partners' people never."""
    if not (user.is_authenticated and user.is_active):
        return None
    partners = Partner.objects.select_related("account_manager").filter(slug=slug)
    if user.role == ROLE_ADMIN:
        return partners.first()
    if user.role == ROLE_ACCOUNT_MANAGER:
        return partners.filter(account_manager_id=user.pk).first()
    if user.role == ROLE_PARTNER_ADMIN and user.partner_id is not None:
        return partners.filter(pk=user.partner_id).first()
    return None


def agreement_version_document_for(*, user, version_id: int) -> AgreementVersion | None:
    """The published version whose document this person may download, or None (404): admins any, an account
    manager those of the kinds of partners they manage, a partner admin those of their partner's kind."""
    if not (user.is_authenticated and user.is_active):
        return None
    versions = AgreementVersion.objects.filter(pk=version_id)
    if user.role == ROLE_ADMIN:
        return versions.first()
    if user.role == ROLE_ACCOUNT_MANAGER:
        kinds = Partner.objects.filter(account_manager_id=user.pk).values("kind")
        return versions.filter(partner_kind__in=kinds).first()
    if user.role == ROLE_PARTNER_ADMIN and user.partner_id is not None:
        kinds = Partner.objects.filter(pk=user.partner_id).values("kind")
        return versions.filter(partner_kind__in=kinds).first()
    return None


@dataclasses.dataclass(frozen=True)
class AgreementBlock:
    """What a partner's people are told while its agreement is missing or lapsed: since when, and who renews."""

    partner_name: str
    partner_slug: str
    lapsed_on: datetime.date | None  # None: never signed
    signers: tuple[str, ...]  # the authorised signers who may accept a new version in the portal
    manager: str  # the account manager ("" when none is assigned)


def agreement_block_for(*, user) -> AgreementBlock | None:
    """For a partner's person: what is blocked because the partner's agreement lapsed (or was never signed), or
    None. One query (the partner, its latest agreement's dates, its account manager and signers, joined); none
    for vendor staff or anonymous visitors."""
    partner_id = getattr(user, "partner_id", None)
    if not (user.is_authenticated and partner_id is not None):
        return None
    latest = Agreement.objects.filter(partner_id=OuterRef("pk")).order_by("-signed_at", "-pk")
    rows = list(
        Partner.objects.filter(pk=partner_id)
        .annotate(latest_signed_at=Subquery(latest.values("signed_at")[:1]),
                  latest_valid_until=Subquery(latest.values("valid_until")[:1]))
        .values("name", "slug", "latest_signed_at", "latest_valid_until", "account_manager__full_name",
                "account_manager__display_email", "authorised_signers__full_name",
                "authorised_signers__display_email", "authorised_signers__role", "authorised_signers__partner_id",
                "authorised_signers__is_active")
        .order_by("authorised_signers__full_name", "authorised_signers__display_email")
    )
    if not rows:
        return None
    first = rows[0]
    if agreement_is_current(signed_at=first["latest_signed_at"], valid_until=first["latest_valid_until"]):
        return None
    signers = tuple(
        row["authorised_signers__full_name"] or row["authorised_signers__display_email"] for row in rows
        if row["authorised_signers__display_email"] and row["authorised_signers__is_active"]
        and row["authorised_signers__role"] == ROLE_PARTNER_ADMIN
        and row["authorised_signers__partner_id"] == partner_id
    )
    manager = first["account_manager__full_name"] or first["account_manager__display_email"] or ""
    lapsed_on = first["latest_valid_until"] if first["latest_signed_at"] is not None else None
    return AgreementBlock(partner_name=first["name"], partner_slug=first["slug"], lapsed_on=lapsed_on,
                          signers=signers, manager=manager)


@dataclasses.dataclass(frozen=True)
class SamlServiceProvider:
    """The portal as a SAML service provider for one account: what its identity provider is given."""

    entity_id: str  # also the address of the portal's metadata for the account
    acs_url: str  # the assertion consumer service (HTTP-POST)

    @property
    def metadata_url(self) -> str:
        return self.entity_id


def saml_service_provider(partner: Partner) -> SamlServiceProvider:
    """The portal's SAML entity ID and assertion consumer service for a partner's account (one per account, so an
    answer meant for one account is never taken for another)."""
    base = f"{settings.PORTAL_URL}/accounts/saml/{partner.slug}"
    return SamlServiceProvider(entity_id=f"{base}/metadata/", acs_url=f"{base}/acs/")


def saml_account_settings(*, slug: str) -> AccountSettings | None:
    """The saved settings of an active partner's account that uses (or is being set up for) SAML, or None."""
    return (
        AccountSettings.objects.filter(partner__slug=slug, partner__is_active=True, sso_protocol=SsoProtocol.SAML)
        .select_related("partner")
        .first()
    )
