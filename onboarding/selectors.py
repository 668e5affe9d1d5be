"""Read-side queries of onboarding, shared by views, admin and commands.

The partner- and item-scoped lookups answer 404 for anything outside what the person may see:
another partner's ids are simply not found (never 403, so nothing can be probed).
"""

import hashlib
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from accounts.models import VENDOR_ROLES, Role, User
from core.emails import InvalidEmail, domain_of, normalize_email
from core.models import AuditEvent, MailState, OutboundMail
from directory_sync.models import DirectoryUser, DirectoryUserStatus
from onboarding.models import (
    OPEN_INVITE_STATES,
    PENDING_STATES,
    Invite,
    InviteState,
    ItemState,
    PortalUserRequest,
    RequestItem,
)
from partners.models import AccountDomain, Agreement, Partner


def partners_visible_to(*, user) -> QuerySet[Partner]:
    """The partners a user may see: their own (partner staff), theirs to manage, or all (admins)."""
    if not user.is_authenticated or not user.is_active:
        return Partner.objects.none()
    if user.role == Role.ADMIN:
        return Partner.objects.all()
    if user.role == Role.ACCOUNT_MANAGER:
        return Partner.objects.filter(account_manager=user)
    return Partner.objects.filter(pk=user.partner_id)


def _count(queryset: QuerySet, *, of: str = "partner") -> Coalesce:
    """A correlated COUNT subquery per partner (or per `of`): joins would multiply rows across relations, and on a
    page of rows only the page's rows are counted. COUNT(*), not of the id: an index without the id answers it."""
    counted = queryset.filter(**{of: OuterRef("pk")}).order_by().values(of).annotate(n=Count("*"))
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
        .order_by("name", "pk")  # the id breaks ties between equal names: no partner on two pages, or on none
    )


# -- onboarding views -------------------------------------------------------------------------

FUNNEL_STAGES = (
    ("submitted", _("Submitted")),
    ("approved", _("Approved")),
    ("awaiting", _("Awaiting validation")),
    ("invited", _("Invited")),
    ("accepted", _("Accepted")),
    ("expired", _("Expired")),
)


def partner_for(*, user, slug: str) -> Partner:
    """The partner of a URL, if this person may see it; 404 otherwise (never 403: no probing)."""
    return get_object_or_404(partners_visible_to(user=user).select_related("account_manager"), slug=slug)


def review_queue(
    *, user, partner_id: int | None = None, request_id: int | None = None, check: str | None = None,
    up_to: int | None = None,
) -> QuerySet[RequestItem]:
    """Items waiting for a decision, of the partners this account manager (or admin) manages, oldest list
    first; narrowed to one partner, one list or one directory check, and to ids up to `up_to` (what a page
    showed: an item submitted since is not decided by "all that match")."""
    items = RequestItem.objects.filter(state=ItemState.SUBMITTED, partner__in=partners_visible_to(user=user))
    if partner_id is not None:
        items = items.filter(partner_id=partner_id)
    if request_id is not None:
        items = items.filter(request_id=request_id)
    if check is not None:
        items = items.filter(check_result=check)
    if up_to is not None:
        items = items.filter(pk__lte=up_to)
    return items.select_related("partner", "request__submitted_by").order_by("request__submitted_at", "id")


def review_items_chosen(*, user, ids) -> list[RequestItem]:
    """The chosen items of this person's partners, whatever their state (one decided since the page was shown
    is refused by the decision, saying how it stands); ids of other partners' items are simply not found."""
    visible = RequestItem.objects.filter(pk__in=ids, partner__in=partners_visible_to(user=user))
    return list(visible.select_related("partner", "request__submitted_by").order_by("request__submitted_at", "id"))


def review_queue_summary(*, user, **filters) -> dict:
    """What the queue page shows about all the (filtered) queue, in three queries whatever its size: how many
    match and the highest id among them (the page posts it with "all that match"), and counts by partner and by
    directory check (within the partner and list filters)."""
    summary = review_queue(user=user, **filters).order_by().aggregate(total=Count("pk"), top=Max("pk"))
    unchecked = {name: value for name, value in filters.items() if name != "check"}
    by_check = (review_queue(user=user, **unchecked).order_by().values("check_result")
                .annotate(n=Count("pk")).order_by("check_result"))
    by_partner = (review_queue(user=user).order_by().values("partner_id", "partner__name")
                  .annotate(n=Count("pk")).order_by("partner__name"))
    return {**summary, "by_check": list(by_check), "by_partner": list(by_partner)}


# -- whose domain an address is --------------------------------------------------------------

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


# -- a partner's pages ------------------------------------------------------------------------
# Each list is read a page at a time (core.paging) in the order of one of onboarding's indexes, ending on a unique
# key: no row shows on two pages, or on none.


def partner_people(*, partner: Partner) -> QuerySet[User]:
    """The partner's people with access, by name (their address, unique, breaks ties)."""
    return partner.members.filter(is_active=True).order_by("full_name", "email")


def partner_items(*, partner: Partner) -> QuerySet[RequestItem]:
    """Every requested person of the partner, newest first."""
    return RequestItem.objects.filter(partner=partner).order_by("-created_at", "-id")


def partner_pending_items(*, partner: Partner) -> QuerySet[RequestItem]:
    """The partner's requested people still on their way (PENDING_STATES), newest first, with who asked."""
    # Joined here only: a join before OFFSET is made for every row skipped, and a late page skips thousands.
    return partner_items(partner=partner).filter(state__in=PENDING_STATES).select_related("request__submitted_by")


def partner_requests(*, partner: Partner) -> QuerySet[PortalUserRequest]:
    """The partner's lists, newest first, each with how many people it asks for and how many are on their way."""
    return (
        PortalUserRequest.objects.filter(partner=partner).select_related("submitted_by")
        .annotate(
            people=_count(RequestItem.objects.all(), of="request"),
            pending=_count(RequestItem.objects.filter(state__in=PENDING_STATES), of="request"),
        )
        .order_by("-submitted_at", "-id")
    )


def partner_invites(*, partner: Partner) -> QuerySet[Invite]:
    """The partner's invites that were not accepted, newest first."""
    return Invite.objects.filter(partner=partner).exclude(state=InviteState.ACCEPTED).order_by("-created_at", "-id")


_latest_try = F("last_attempt_at").desc(nulls_last=True)  # marked failed without a try: last


def partner_failed_invites(*, partner: Partner) -> QuerySet[Invite]:
    """The partner's invites whose mail failed for good (an account manager sends them again), latest first."""
    return Invite.objects.filter(partner=partner, state=InviteState.FAILED).order_by(_latest_try, "-id")


def partner_failed_mail(*, partner: Partner) -> QuerySet[OutboundMail]:
    """The notifications about the partner that failed for good, latest first."""
    return OutboundMail.objects.filter(partner_id=partner.pk, state=MailState.FAILED).order_by(_latest_try, "-id")


@dataclass(frozen=True)
class PartnerCounts:
    """How long each list of a partner's page is (partner_counts)."""

    people: int
    lists: int
    items_by_state: dict[str, int]
    invites_by_state: dict[str, int]
    failed_mail: int

    @property
    def requested(self) -> int:
        return sum(self.items_by_state.values())

    @property
    def pending(self) -> int:
        return sum(self.items_by_state.get(state, 0) for state in PENDING_STATES)

    @property
    def invites(self) -> int:
        """The invites the page lists: all but the accepted."""
        return sum(n for state, n in self.invites_by_state.items() if state != InviteState.ACCEPTED)

    @property
    def failed_invites(self) -> int:
        return self.invites_by_state.get(InviteState.FAILED, 0)

    @property
    def funnel(self) -> list[dict]:
        return _funnel(self.items_by_state)


def partner_counts(*, partner: Partner) -> PartnerCounts:
    """The length of every list of the partner's page (and its funnel), in one query: a union of counts, each
    answered from an index."""

    def counted(queryset: QuerySet, kind: str, by: str | None = None) -> QuerySet:
        return (
            queryset.order_by().annotate(counted_list=Value(kind), counted_key=F(by) if by else Value(""))
            .values("counted_list", "counted_key").annotate(n=Count("*"))
            .values_list("counted_list", "counted_key", "n")
        )

    rows = counted(partner_people(partner=partner), "people").union(
        counted(PortalUserRequest.objects.filter(partner=partner), "lists"),
        counted(RequestItem.objects.filter(partner=partner), "items", by="state"),
        counted(Invite.objects.filter(partner=partner), "invites", by="state"),
        counted(partner_failed_mail(partner=partner), "failed_mail"),
        all=True,
    )
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, key, n in rows:
        found[kind][key] = n
    return PartnerCounts(
        people=found["people"].get("", 0), lists=found["lists"].get("", 0), items_by_state=found["items"],
        invites_by_state=found["invites"], failed_mail=found["failed_mail"].get("", 0),
    )


def partner_mail(*, partner: Partner, mail_id: int) -> OutboundMail:
    """One notification about this partner, or 404."""
    return get_object_or_404(OutboundMail, pk=mail_id, partner_id=partner.pk)


def partner_item(*, partner: Partner, item_id: int) -> RequestItem:
    """One requested person of this partner, or 404."""
    return get_object_or_404(RequestItem.objects.select_related("request__submitted_by"), pk=item_id, partner=partner)


def partner_request(*, partner: Partner, request_id: int) -> PortalUserRequest:
    """One list of this partner, or 404."""
    return get_object_or_404(PortalUserRequest.objects.select_related("submitted_by"), pk=request_id, partner=partner)


def request_items(*, portal_request: PortalUserRequest) -> QuerySet[RequestItem]:
    """The people of one list, in the order it gave them."""
    return portal_request.items.select_related("decided_by").order_by("id")


def item_invites(*, item: RequestItem) -> QuerySet[Invite]:
    return item.invites.order_by("-created_at")


def partner_invite(*, partner: Partner, invite_id: int) -> Invite:
    """One invite of this partner, or 404."""
    return get_object_or_404(Invite, pk=invite_id, partner=partner)


def invite_counts() -> dict[str, int]:
    """How many invites wait to be sent, are being sent, and failed (for operators; sent ones are not counted)."""
    unsent = [InviteState.PENDING, InviteState.SENDING, InviteState.FAILED]
    counts = dict.fromkeys((state.value for state in unsent), 0)
    rows = Invite.objects.filter(state__in=unsent).order_by().values("state").annotate(n=Count("pk"))
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def invite_by_pk(*, pk) -> Invite | None:
    return Invite.objects.filter(pk=pk).first() if pk is not None else None


def invite_by_token(token: str) -> Invite | None:
    """The invite a link names (only its hash is stored), or None."""
    if not token or len(token) > 100:
        return None
    return Invite.objects.select_related("partner", "user", "item").filter(token_hash=token_hash(token)).first()


def invite_by_token_hash(digest: str | None) -> Invite | None:
    """The invite whose token hashes to `digest` (what a browser that opened a link keeps), or None."""
    if not digest:
        return None
    return Invite.objects.select_related("partner", "user", "item").filter(token_hash=digest).first()


def token_hash(token: str) -> str:
    """How an invite's token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


_INVITED_STATES = (ItemState.INVITED, ItemState.ACCOUNT_CREATED, ItemState.ACCEPTED)


def _funnel(by_state: dict[str, int]) -> list[dict]:
    """How far a partner's requested people got, stage by stage, from their count per state; with bar widths."""
    total = sum(by_state.values())
    counts = {
        "submitted": total,
        "approved": total - by_state.get(ItemState.SUBMITTED, 0) - by_state.get(ItemState.REJECTED, 0),
        "awaiting": by_state.get(ItemState.AWAITING_VALIDATION, 0),
        "invited": sum(by_state.get(state, 0) for state in _INVITED_STATES),
        "accepted": by_state.get(ItemState.ACCEPTED, 0),
        "expired": by_state.get(ItemState.EXPIRED, 0),
    }
    top = max(total, 1)
    return [{"key": key, "label": label, "count": counts[key], "width": round(100 * counts[key] / top)}
            for key, label in FUNNEL_STAGES]


def partner_funnels(*, partner_ids: Collection[int]) -> dict[int, list[dict]]:
    """The funnel of each of these partners, from one query counting items by partner and state."""
    by_partner: dict[int, dict[str, int]] = {pk: {} for pk in partner_ids}
    rows = (
        RequestItem.objects.filter(partner_id__in=by_partner).order_by().values("partner_id", "state")
        .annotate(n=Count("*")).values_list("partner_id", "state", "n")
    )
    for partner_id, state, n in rows:
        by_partner[partner_id][state] = n
    return {pk: _funnel(by_state) for pk, by_state in by_partner.items()}


def funnel(*, partner: Partner) -> list[dict]:
    """How far the partner's requested people got, stage by stage, with bar widths for the chart."""
    return partner_funnels(partner_ids=[partner.pk])[partner.pk]


class _Median(Aggregate):
    """PostgreSQL's median: the 50th percentile, interpolated between the two middle values (as statistics.median)."""

    name = "Median"
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def times_to_access(*, partner_ids: Collection[int]) -> dict[int, timedelta]:
    """Median time from a person's request to their accepted invite, of each of these partners that has one, in
    one query."""
    accepted = Invite.objects.filter(
        partner_id__in=partner_ids, state=InviteState.ACCEPTED, item__isnull=False
    ).order_by()
    span = ExpressionWrapper(F("accepted_at") - F("item__created_at"), output_field=DurationField())
    if connections[accepted.db].vendor == "postgresql":
        medians = accepted.values("partner_id").annotate(median=_Median(span, output_field=DurationField()))
        return dict(medians.values_list("partner_id", "median"))
    # SQLite (the embedded default) has no percentiles: one query's spans, each partner's median taken here.
    spans: dict[int, list[timedelta]] = defaultdict(list)
    for partner_id, accepted_at, requested_at in accepted.values_list("partner_id", "accepted_at", "item__created_at"):
        spans[partner_id].append(accepted_at - requested_at)
    return {partner_id: statistics.median(values) for partner_id, values in spans.items()}


def time_to_access(*, partner: Partner) -> timedelta | None:
    """Median time from a person's request to their accepted invite, or None."""
    return times_to_access(partner_ids=[partner.pk]).get(partner.pk)


TIMELINE_STEPS = (
    ("request.item_submitted", _("Requested")),
    ("request.item_approved", _("Approved")),
    ("request.item_rejected", _("Rejected")),
    ("request.item_awaiting_validation", _("Waiting for the directory")),
    ("request.item_invalid_address", _("Alias or forwarding address: primary suggested")),
    ("request.item_validated", _("Found in the directory")),
    ("request.item_account_created", _("Account created")),
    ("request.item_expired", _("Expired")),
    ("request.item_flagged", _("Domain added to another account: flagged for the account manager")),
    ("invite.sent", _("Invited")),
    ("invite.send_failed", _("Invitation could not be sent")),
    ("invite.resent", _("Invitation sent again")),
    ("invite.revoked", _("Invitation revoked")),
    ("invite.expired", _("Invitation expired")),
    ("invite.accepted", _("Accepted")),
    ("welcome.sent", _("Welcome mail sent")),
    ("welcome.send_failed", _("Welcome mail could not be sent")),
    ("welcome.resent", _("Welcome mail sent again")),
    ("welcome.revoked", _("Welcome link revoked")),
    ("welcome.accepted", _("Accepted")),
    ("two_factor.enrolled", _("Two-factor enrolled")),
)


def item_events(*, item: RequestItem) -> QuerySet[AuditEvent]:
    """The audit events of a requested person's way to access, oldest first: of the item, of its invites, and the
    two-factor enrolment of its user (the audit trail's (target_type, target_id) index answers each)."""
    invites = list(item.invites.order_by("-created_at", "-id").values_list("pk", "user_id"))
    user_id = item.user_id or next((user_id for _pk, user_id in invites if user_id), None)
    query = Q(target_type="onboarding.requestitem", target_id=str(item.pk)) | Q(
        target_type="onboarding.invite", target_id__in=[str(pk) for pk, _user_id in invites]
    )
    if user_id:
        query |= Q(target_type="accounts.user", target_id=str(user_id), action="two_factor.enrolled")
    return AuditEvent.objects.filter(query, action__in=dict(TIMELINE_STEPS)).order_by("created_at", "id")


def timeline_steps(events: Iterable[AuditEvent]) -> list[dict]:
    """The steps a page of item_events shows."""
    labels = dict(TIMELINE_STEPS)
    return [{"at": e.created_at, "label": labels[e.action], "actor": e.actor_label or _("system"),
             "detail": e.data.get("reason") or e.data.get("primary") or ""} for e in events]


def item_timeline(*, item: RequestItem) -> list[dict]:
    """A requested person's way to access, from the audit trail of the item, its invites and its user."""
    return timeline_steps(item_events(item=item))
