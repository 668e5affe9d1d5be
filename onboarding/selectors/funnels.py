"""How far a partner's requested people got (the funnel) and how long they took (the median time to access),
for one partner or a page of partners in one query each."""

import statistics
from collections import defaultdict
from collections.abc import Collection
from datetime import timedelta

from django.db import connections
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F
from django.utils.translation import gettext_lazy as _

from onboarding.models import Invite, InviteState, ItemState, RequestItem
from partners.models import Partner

FUNNEL_STAGES = (
    ("submitted", _("Submitted")),
    ("approved", _("Approved")),
    ("awaiting", _("Awaiting validation")),
    ("invited", _("Invited")),
    ("accepted", _("Accepted")),
    ("expired", _("Expired")),
)


_INVITED_STATES = (ItemState.INVITED, ItemState.ACCOUNT_CREATED, ItemState.ACCEPTED)


def funnel_of_states(by_state: dict[str, int]) -> list[dict]:
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
    return {pk: funnel_of_states(by_state) for pk, by_state in by_partner.items()}


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
