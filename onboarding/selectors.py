"""Read-side queries of onboarding, shared by views, admin and commands.

The partner- and item-scoped lookups answer 404 for anything outside what the person may see:
another partner's ids are simply not found (never 403, so nothing can be probed).
"""

import hashlib
import statistics
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.models import VENDOR_ROLES, Role, User
from core.emails import InvalidEmail, domain_of, normalize_email
from core.models import AuditEvent, MailState, OutboundMail
from directory_sync.models import DirectoryUser, DirectoryUserStatus
from onboarding.models import OPEN_INVITE_STATES, Invite, InviteState, ItemState, PortalUserRequest, RequestItem
from partners.models import AccountDomain, Agreement, Partner

# Items still on their way: waiting for a decision, for the directory, or for a corrected address.
PENDING_STATES = (ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION, ItemState.INVALID_ADDRESS)


def partners_visible_to(*, user) -> QuerySet[Partner]:
    """The partners a user may see: their own (partner staff), theirs to manage, or all (admins)."""
    if not user.is_authenticated or not user.is_active:
        return Partner.objects.none()
    if user.role == Role.ADMIN:
        return Partner.objects.all()
    if user.role == Role.ACCOUNT_MANAGER:
        return Partner.objects.filter(account_manager=user)
    return Partner.objects.filter(pk=user.partner_id)


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


# -- onboarding views -------------------------------------------------------------------------

FUNNEL_STAGES = (
    ("submitted", "Submitted"),
    ("approved", "Approved"),
    ("awaiting", "Awaiting validation"),
    ("invited", "Invited"),
    ("accepted", "Accepted"),
    ("expired", "Expired"),
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


def partner_people(*, partner: Partner) -> QuerySet[User]:
    """The partner's people with access."""
    return partner.members.filter(is_active=True).order_by("full_name", "email")


def partner_items(*, partner: Partner) -> QuerySet[RequestItem]:
    """Every requested person of the partner, newest first."""
    return (
        RequestItem.objects.filter(partner=partner)
        .select_related("request__submitted_by", "user", "decided_by")
        .order_by("-created_at")
    )


def partner_requests(*, partner: Partner) -> QuerySet[PortalUserRequest]:
    """The partner's lists, newest first, with their items."""
    return PortalUserRequest.objects.filter(partner=partner).select_related("submitted_by").prefetch_related(
        Prefetch("items", queryset=RequestItem.objects.order_by("id"))
    )


def partner_invites(*, partner: Partner) -> QuerySet[Invite]:
    """The partner's invites that were not accepted, newest first."""
    return (
        Invite.objects.filter(partner=partner).exclude(state=InviteState.ACCEPTED).select_related("item")
        .order_by("-created_at")
    )


_latest_try = F("last_attempt_at").desc(nulls_last=True)  # marked failed without a try: last


def partner_failed_invites(*, partner: Partner) -> QuerySet[Invite]:
    """The partner's invites whose mail failed for good (an account manager sends them again), latest first."""
    return Invite.objects.filter(partner=partner, state=InviteState.FAILED).order_by(_latest_try, "-id")


def partner_failed_mail(*, partner: Partner) -> QuerySet[OutboundMail]:
    """The notifications about the partner that failed for good, latest first."""
    return OutboundMail.objects.filter(partner_id=partner.pk, state=MailState.FAILED).order_by(_latest_try, "-id")


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


def funnel(*, partner: Partner) -> list[dict]:
    """How far the partner's requested people got, stage by stage, with bar widths for the chart."""
    reached_approval = ~Q(state__in=[ItemState.SUBMITTED, ItemState.REJECTED])
    invited = Q(state__in=[ItemState.INVITED, ItemState.ACCOUNT_CREATED, ItemState.ACCEPTED])
    counts = RequestItem.objects.filter(partner=partner).aggregate(
        submitted=Count("pk"),
        approved=Count("pk", filter=reached_approval),
        awaiting=Count("pk", filter=Q(state=ItemState.AWAITING_VALIDATION)),
        invited=Count("pk", filter=invited),
        accepted=Count("pk", filter=Q(state=ItemState.ACCEPTED)),
        expired=Count("pk", filter=Q(state=ItemState.EXPIRED)),
    )
    top = max(counts["submitted"], 1)
    return [{"key": key, "label": label, "count": counts[key], "width": round(100 * counts[key] / top)}
            for key, label in FUNNEL_STAGES]


def time_to_access(*, partner: Partner):
    """Median time from a person's request to their accepted invite, or None."""
    spans = [
        accepted - requested
        for accepted, requested in Invite.objects.filter(
            partner=partner, state="accepted", item__isnull=False
        ).values_list("accepted_at", "item__created_at")
    ]
    return statistics.median(spans) if spans else None


TIMELINE_STEPS = (
    ("request.item_submitted", "Requested"),
    ("request.item_approved", "Approved"),
    ("request.item_rejected", "Rejected"),
    ("request.item_awaiting_validation", "Waiting for the directory"),
    ("request.item_invalid_address", "Alias or forwarding address: primary suggested"),
    ("request.item_validated", "Found in the directory"),
    ("request.item_account_created", "Account created"),
    ("request.item_expired", "Expired"),
    ("request.item_flagged", "Domain added to another account: flagged for the account manager"),
    ("invite.sent", "Invited"),
    ("invite.send_failed", "Invitation could not be sent"),
    ("invite.resent", "Invitation sent again"),
    ("invite.revoked", "Invitation revoked"),
    ("invite.expired", "Invitation expired"),
    ("invite.accepted", "Accepted"),
    ("welcome.sent", "Welcome mail sent"),
    ("welcome.send_failed", "Welcome mail could not be sent"),
    ("welcome.resent", "Welcome mail sent again"),
    ("welcome.revoked", "Welcome link revoked"),
    ("welcome.accepted", "Accepted"),
    ("two_factor.enrolled", "Two-factor enrolled"),
)


def item_timeline(*, item: RequestItem) -> list[dict]:
    """A requested person's way to access, from the audit trail of the item, its invites and its user."""
    labels = dict(TIMELINE_STEPS)
    invite_ids = [str(pk) for pk in item.invites.values_list("pk", flat=True)]
    user_id = item.user_id or item.invites.values_list("user_id", flat=True).first()
    query = Q(target_type="onboarding.requestitem", target_id=str(item.pk)) | Q(
        target_type="onboarding.invite", target_id__in=invite_ids
    )
    if user_id:
        query |= Q(target_type="accounts.user", target_id=str(user_id), action="two_factor.enrolled")
    events = AuditEvent.objects.filter(query, action__in=labels).order_by("created_at", "id")
    return [{"at": e.created_at, "label": labels[e.action], "actor": e.actor_label or "system",
             "detail": e.data.get("reason") or e.data.get("primary") or ""} for e in events]
