"""Read-side queries shared by views, admin and commands."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, User
from directory_sync.models import DirectoryUser, DirectoryUserStatus
from onboarding.models import OPEN_INVITE_STATES, Agreement, Invite, ItemState, Partner, RequestItem


def partners_visible_to(*, user) -> QuerySet[Partner]:
    """The partners a user may see: their own (partner staff), theirs to manage, or all (admins)."""
    if not user.is_authenticated or not user.is_active:
        return Partner.objects.none()
    if user.role == Role.ADMIN:
        return Partner.objects.all()
    if user.role == Role.ACCOUNT_MANAGER:
        return Partner.objects.filter(account_manager=user)
    return Partner.objects.filter(pk=user.partner_id)


def current_agreement(*, partner: Partner) -> Agreement | None:
    """The latest signed agreement of a partner if it is still valid (R1), else None."""
    latest = partner.agreements.order_by("-signed_at").first()
    if latest is None or not latest.is_current():
        return None
    return latest


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT subquery per partner (joins would multiply rows across relations)."""
    counted = queryset.filter(partner=OuterRef("pk")).order_by().values("partner").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")[:1]), 0)


def partner_overview(*, partners: QuerySet[Partner]) -> QuerySet[Partner]:
    """Partners annotated with what a dashboard shows, in one query."""
    latest = Agreement.objects.filter(partner=OuterRef("pk")).order_by("-signed_at")
    return (
        partners.select_related("account_manager")
        .annotate(
            agreement_version=Subquery(latest.values("version")[:1]),
            agreement_signed_at=Subquery(latest.values("signed_at")[:1]),
            agreement_valid_until=Subquery(latest.values("valid_until")[:1]),
            member_count=_count(User.objects.filter(is_active=True)),
            pending_items=_count(
                RequestItem.objects.filter(state__in=[ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION])
            ),
            open_invites=_count(Invite.objects.filter(state__in=OPEN_INVITE_STATES)),
            directory_people=_count(DirectoryUser.objects.filter(status=DirectoryUserStatus.ACTIVE)),
        )
        .order_by("name")
    )


def agreement_is_current(*, signed_at, valid_until) -> bool:
    """Whether an annotated agreement (see partner_overview) gates R1 open."""
    return signed_at is not None and (valid_until is None or valid_until >= timezone.localdate())
