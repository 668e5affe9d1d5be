"""The account manager's review queue: the items waiting for a decision, a page at a time, and its counts."""


from django.db.models import Count, Max, QuerySet

from onboarding.models import ItemState, RequestItem
from onboarding.selectors.scope import name_or_address_starts_with, partners_visible_to


def review_queue(
    *, user, partner_id: int | None = None, request_id: int | None = None, check: str | None = None,
    search: str | None = None, up_to: int | None = None,
) -> QuerySet[RequestItem]:
    """Items waiting for a decision, of the partners this account manager (or admin) manages, oldest list
    first; narrowed to one partner, one list, one directory check or the people whose name or address starts
    with `search`, and to ids up to `up_to` (what a page showed: an item submitted since is not decided by "all
    that match")."""
    items = RequestItem.objects.filter(state=ItemState.SUBMITTED, partner__in=partners_visible_to(user=user))
    if partner_id is not None:
        items = items.filter(partner_id=partner_id)
    if request_id is not None:
        items = items.filter(request_id=request_id)
    if check is not None:
        items = items.filter(check_result=check)
    if search:
        items = items.filter(name_or_address_starts_with(search))
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
