"""A partner's page: each of its lists a page at a time, their lengths in one query, and the single rows its
actions name (404 outside the partner)."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Value
from django.shortcuts import get_object_or_404

from accounts.models import User
from core.models import MailState, OutboundMail
from onboarding.models import ASKABLE_STATES, PENDING_STATES, Invite, InviteState, PortalUserRequest, RequestItem
from onboarding.selectors.funnels import funnel_of_states
from onboarding.selectors.scope import count_of, name_or_address_starts_with
from partners.models import Partner

# Each list is read a page at a time (core.paging) in the order of one of onboarding's indexes, ending on a unique
# key: no row shows on two pages, or on none.


def partner_people(*, partner: Partner) -> QuerySet[User]:
    """The partner's people with access, by name (their address, unique, breaks ties)."""
    return partner.members.filter(is_active=True).order_by("full_name", "email")


def partner_items(*, partner: Partner, search: str = "", state: str = "") -> QuerySet[RequestItem]:
    """Every requested person of the partner, newest first; those whose name or address starts with `search`,
    of `state`, when given."""
    items = RequestItem.objects.filter(partner=partner)
    if search:
        items = items.filter(name_or_address_starts_with(search))
    if state:
        items = items.filter(state=state)
    return items.order_by("-created_at", "-id")


def partner_pending_items(*, partner: Partner, search: str = "", state: str = "") -> QuerySet[RequestItem]:
    """The partner's requested people still on their way (PENDING_STATES), newest first, with who asked; narrowed
    as partner_items."""
    # Joined here only: a join before OFFSET is made for every row skipped, and a late page skips thousands.
    return (partner_items(partner=partner, search=search, state=state).filter(state__in=PENDING_STATES)
            .select_related("request__submitted_by"))


def _partner_lists(*, partner: Partner, search: str = "", source: str = "") -> QuerySet[PortalUserRequest]:
    lists = PortalUserRequest.objects.filter(partner=partner)
    if search:  # the lists that ask for someone of that name or address
        lists = lists.filter(Exists(RequestItem.objects.filter(name_or_address_starts_with(search),
                                                               request=OuterRef("pk"), partner=partner)))
    if source:
        lists = lists.filter(source=source)
    return lists


def partner_requests(*, partner: Partner, search: str = "", source: str = "") -> QuerySet[PortalUserRequest]:
    """The partner's lists, newest first, each with how many people it asks for and how many are on their way;
    those asking for someone whose name or address starts with `search`, from `source`, when given."""
    return (
        _partner_lists(partner=partner, search=search, source=source).select_related("submitted_by")
        .annotate(
            people=count_of(RequestItem.objects.all(), of="request"),
            pending=count_of(RequestItem.objects.filter(state__in=PENDING_STATES), of="request"),
        )
        .order_by("-submitted_at", "-id")
    )


def partner_invites(*, partner: Partner, search: str = "", state: str = "") -> QuerySet[Invite]:
    """The partner's invites that were not accepted, newest first; narrowed as partner_items."""
    invites = Invite.objects.filter(partner=partner).exclude(state=InviteState.ACCEPTED)
    if search:
        invites = invites.filter(name_or_address_starts_with(search))
    if state:
        invites = invites.filter(state=state)
    return invites.order_by("-created_at", "-id")


# What each list of the partner page may be narrowed by (its search box and its state or source), by the list's
# name on the page (its page parameter).
FILTERED_LISTS = {
    "pending": partner_pending_items,
    "requested": partner_items,
    "invites": partner_invites,
    "lists": _partner_lists,
}


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
    # How many rows of each filtered list match its filter (partner_counts' `filters`), by the list's name.
    matching: dict[str, int] = field(default_factory=dict)

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
        return funnel_of_states(self.items_by_state)


def partner_counts(*, partner: Partner, filters: dict[str, dict] | None = None) -> PartnerCounts:
    """The length of every list of the partner's page (and its funnel), in one query: a union of counts, each
    answered from an index. `filters` names lists of FILTERED_LISTS with their filter's arguments (search, state or
    source): how many of each match joins the same union, so a filtered page still costs one query for counts."""

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
        *(counted(FILTERED_LISTS[name](partner=partner, **narrowed), f"matching:{name}")
          for name, narrowed in (filters or {}).items()),
        all=True,
    )
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, key, n in rows:
        found[kind][key] = n
    return PartnerCounts(
        people=found["people"].get("", 0), lists=found["lists"].get("", 0), items_by_state=found["items"],
        invites_by_state=found["invites"], failed_mail=found["failed_mail"].get("", 0),
        matching={name: found[f"matching:{name}"].get("", 0) for name in filters or {}},
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


def follow_ups_marked(items) -> None:
    """Give each of these items (a page of them) `follow_up_email`: the address it was asked for again as, or "".

    An item asked for again keeps its state (it ended as it ended); its page says where the follow-up went instead
    of offering to ask again. One query for the page, answered from the items' index on `replaces`."""
    if hasattr(items, "object_list"):  # a page: its rows read once, and kept with what is set on them
        items.object_list = list(items.object_list)
        items = items.object_list
    ended = [item.pk for item in items if item.state in ASKABLE_STATES]
    follow_ups = dict(RequestItem.objects.filter(replaces_id__in=ended).order_by("id")
                      .values_list("replaces_id", "display_email")) if ended else {}
    for item in items:
        item.follow_up_email = follow_ups.get(item.pk, "")
