"""Which partners a person may see, and the partner of a URL (404 for any other: never 403, so nothing can be
probed); the partner overview of dashboards and the partner list's filters; what a list's search box matches."""

import datetime

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.models import Role, User
from core.timezones import portal_today
from directory_sync.models import DirectoryUser, DirectoryUserStatus
from onboarding.models import OPEN_INVITE_STATES, Invite, ItemState, RequestItem
from partners.models import Agreement, Partner


def partners_visible_to(*, user) -> QuerySet[Partner]:
    """The partners a user may see: their own (partner staff), theirs to manage, or all (admins)."""
    if not user.is_authenticated or not user.is_active:
        return Partner.objects.none()
    if user.role == Role.ADMIN:
        return Partner.objects.all()
    if user.role == Role.ACCOUNT_MANAGER:
        return Partner.objects.filter(account_manager=user)
    return Partner.objects.filter(pk=user.partner_id)


def count_of(queryset: QuerySet, *, of: str = "partner") -> Coalesce:
    """A correlated COUNT subquery per partner (or per `of`): joins would multiply rows across relations, and on a
    page of rows only the page's rows are counted. COUNT(*), not of the id: an index without the id answers it."""
    counted = queryset.filter(**{of: OuterRef("pk")}).order_by().values(of).annotate(n=Count("*"))
    return Coalesce(Subquery(counted.values("n")[:1]), 0)


def name_or_address_starts_with(search: str, *, name: str = "name", email: str = "email") -> Q:
    """What a list's search box matches: the beginning of a name in any case, or of an address (stored
    normalised, so the search is lowered). A prefix, never a substring, so that an index serves it on PostgreSQL:
    UPPER(name) LIKE 'PAT%' and email LIKE 'pat%' (onboarding's migration 0008); Django escapes % and _."""
    return Q(**{f"{name}__istartswith": search}) | Q(**{f"{email}__startswith": search.lower()})


def partner_overview(*, partners: QuerySet[Partner]) -> QuerySet[Partner]:
    """Partners annotated with what a dashboard shows, in one query."""
    latest = Agreement.objects.filter(partner=OuterRef("pk")).order_by("-signed_at")
    return (
        partners.select_related("account_manager")
        .annotate(
            agreement_version=Subquery(latest.values("version")[:1]),
            agreement_signed_at=Subquery(latest.values("signed_at")[:1]),
            agreement_valid_until=Subquery(latest.values("valid_until")[:1]),
            member_count=count_of(User.objects.filter(is_active=True)),
            pending_items=count_of(
                RequestItem.objects.filter(state__in=[ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION])
            ),
            open_invites=count_of(Invite.objects.filter(state__in=OPEN_INVITE_STATES)),
            directory_people=count_of(DirectoryUser.objects.filter(status=DirectoryUserStatus.ACTIVE)),
        )
        .order_by("name", "pk")  # the id breaks ties between equal names: no partner on two pages, or on none
    )


def partner_for(*, user, slug: str) -> Partner:
    """The partner of a URL, if this person may see it; 404 otherwise (never 403: no probing)."""
    return get_object_or_404(partners_visible_to(user=user).select_related("account_manager"), slug=slug)


class AgreementFilter:
    """The partner list's agreement filter: which partners' latest signed agreement is current, lapsed, or none."""

    CURRENT = "current"
    LAPSED = "lapsed"
    NONE = "none"
    VALUES = (CURRENT, LAPSED, NONE)


def partners_matching(
    partners: QuerySet[Partner], *, search: str = "", kind: str = "", agreement: str = "", pending: bool = False,
    today: datetime.date | None = None,
) -> QuerySet[Partner]:
    """The partner overview (partner_overview) narrowed by the partner list's filters: the beginning of the name
    or the slug, the kind, the latest agreement's standing, and whether anyone is still waiting. Each a condition
    on the partner row or on the overview's own per-partner subqueries: no more queries, whatever the filters."""
    if search:
        partners = partners.filter(Q(name__istartswith=search) | Q(slug__startswith=search.lower()))
    if kind:
        partners = partners.filter(kind=kind)
    if pending:
        partners = partners.filter(pending_items__gt=0)
    today = today or portal_today()
    if agreement == AgreementFilter.NONE:
        partners = partners.filter(agreement_signed_at__isnull=True)
    elif agreement == AgreementFilter.LAPSED:
        partners = partners.filter(agreement_valid_until__lt=today)
    elif agreement == AgreementFilter.CURRENT:
        partners = partners.filter(agreement_signed_at__isnull=False).filter(
            Q(agreement_valid_until__isnull=True) | Q(agreement_valid_until__gte=today)
        )
    return partners
