"""The account manager's review queue, a page at a time: approve or reject the chosen people, or all that match."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.models import VENDOR_ROLES
from core.conflicts import conflicts_refused
from core.paging import page_of
from onboarding.errors import NOTHING_CHOSEN, REASON_CONTROL_CHARACTERS, REASON_REQUIRED, REFUSED, ConcurrentChange
from onboarding.forms import FILTER_NOT_UNDERSTOOD, SEARCH_MAX_LENGTH
from onboarding.models import CheckResult
from onboarding.selectors import review_items_chosen, review_queue, review_queue_summary
from onboarding.selectors.outcomes import decision_outcomes, decision_outcomes_kept
from onboarding.services.requests import MAX_ROWS
from onboarding.services.review import request_items_approve, request_items_reject
from onboarding.validators import has_control_characters

PAGE_SIZE = 100  # people per page of the queue
# "All that match" decides the oldest this many at a time (a full list): a queue of thousands is decided in a few
# answers of bounded time, not in one that holds the locks of all of it.
DECIDED_AT_ONCE = MAX_ROWS
MORE_TO_DECIDE = gettext_lazy(
    "More people match than are decided at once: the oldest {count} were taken. Decide again for the rest."
)
REFUSALS_SHOWN = 20  # one message per refused person, up to this many; then how many more
# The people of the last decision, until the page after it has shown each one's outcome (once).
DECIDED_SESSION = "review_decided"


def _require_vendor_staff(user) -> None:
    if user.role not in VENDOR_ROLES:
        raise PermissionDenied


def _number(value) -> int | None:
    """A database id from a query string or form, or None (ASCII digits only: str.isdigit() also takes '²')."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19 else None


# Each filter's parameter in the queue's query string and in the decision's form.
PARAMETERS = {"partner_id": "partner", "request_id": "list", "check": "check", "search": "q"}
SHOWN_OF_A_VALUE = 40  # characters of a value not understood that its message repeats


def _search(value) -> str | None:
    """The search box's text (the beginning of a name or an address), or None: empty, too long, or holding
    control characters (a NUL is refused by PostgreSQL itself: a server error, not a filter)."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return None if len(value) > SEARCH_MAX_LENGTH or has_control_characters(value) else value


def _filters(data: QueryDict) -> dict:
    """The queue's filters from a query string or form: partner and list ids, a directory check, a search."""
    check = data.get("check")
    return {"partner_id": _number(data.get("partner")), "request_id": _number(data.get("list")),
            "check": check if check in CheckResult.values else None, "search": _search(data.get("q"))}


def _not_understood(data: QueryDict, filters: dict) -> list[str]:
    """The filter values given but not applied (not an id, not a directory check, not a usable search)."""
    return [value for key, name in PARAMETERS.items()
            if (value := data.get(name, "")).strip() and filters[key] is None]


def _query(filters: dict) -> str:
    """The filters as the queue's query string (for links and the redirect after a decision)."""
    return urlencode({PARAMETERS[key]: value for key, value in filters.items() if value is not None})


def _check_label(value: str) -> str:
    return CheckResult(value).label if value else gettext("Not checked")


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Submitted lists of this account manager's partners (admins: all), oldest first, a page at a time."""
    _require_vendor_staff(request.user)
    filters = _filters(request.GET)
    for value in _not_understood(request.GET, filters):  # said, never a server error
        messages.warning(request, FILTER_NOT_UNDERSTOOD.format(value=Truncator(value).chars(SHOWN_OF_A_VALUE)))
    summary = review_queue_summary(user=request.user, **filters)
    outcome = decision_outcomes(user=request.user, kept=request.session.pop(DECIDED_SESSION, None) or [])
    page = page_of(review_queue(user=request.user, **filters), request=request, per_page=PAGE_SIZE,
                   count=summary["total"])
    return render(request, "onboarding/review_queue.html", {
        "page": page, "items": list(page.object_list), "summary": summary, "filters": filters,
        "filtered": any(value is not None for value in filters.values()),
        # The whole queue's length, from the counts by partner (one of the summary's queries): "12 of 340 match".
        "queue_total": sum(row["n"] for row in summary["by_partner"]),
        "checks": [(row["check_result"], _check_label(row["check_result"]), row["n"]) for row in summary["by_check"]],
        "outcome": outcome,
    })


@login_required
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject the chosen items (ticked on the page), or all that match the page's filters and were
    shown (decision approve_all or reject_all, with the highest item id the page saw); a rejection needs its
    reason."""
    _require_vendor_staff(request.user)
    filters = _filters(request.POST)
    back = reverse("onboarding:review_queue") + (f"?{_query(filters)}" if any(filters.values()) else "")
    decision = request.POST.get("decision", "")
    decision, everything = decision.removesuffix("_all"), decision.endswith("_all")
    reason = request.POST.get("reason", "").strip()
    if decision not in ("approve", "reject"):
        return redirect(back)
    if everything:
        # Scoped to this person's partners and the filters, and to what the page showed: an item that
        # arrived after it was rendered has a higher id and waits for a page that shows it.
        up_to = _number(request.POST.get("seen_up_to"))
        matching = review_queue(user=request.user, **filters, up_to=up_to) if up_to is not None else None
        ids = list(matching.values_list("pk", flat=True)[:DECIDED_AT_ONCE + 1]) if matching is not None else []
        if len(ids) > DECIDED_AT_ONCE:
            ids = ids[:DECIDED_AT_ONCE]
            messages.info(request, MORE_TO_DECIDE.format(count=DECIDED_AT_ONCE))
    else:
        wanted = {pk for pk in map(_number, request.POST.getlist("item")) if pk is not None}
        ids = [item.pk for item in review_items_chosen(user=request.user, ids=wanted)]
    if not ids:
        messages.error(request, NOTHING_CHOSEN)
        return redirect(back)
    if decision == "reject" and not reason:
        messages.error(request, REASON_REQUIRED)
        return redirect(back)
    if decision == "reject" and has_control_characters(reason):
        messages.error(request, REASON_CONTROL_CHARACTERS)
        return redirect(back)
    _decided(request, ids, decision, reason)
    return redirect(back)


def _decided(request: HttpRequest, ids: list[int], decision: str, reason: str) -> None:
    """Decide the items at once and say how it went: how many, and who was refused and why."""
    try:
        with conflicts_refused():
            if decision == "approve":
                decided = request_items_approve(item_ids=ids, actor=request.user, request=request)
            else:
                decided = request_items_reject(item_ids=ids, actor=request.user, reason=reason, request=request)
    except ConcurrentChange as exc:
        # Nothing was decided: the whole decision is one transaction. One person: say whom it was about.
        chosen = review_items_chosen(user=request.user, ids=ids) if len(ids) == 1 else []
        messages.error(request, f"{chosen[0].display_email}: {exc}" if chosen else str(exc))
        return
    except REFUSED as exc:
        messages.error(request, str(exc))
        return
    done = len(decided.done)
    if done:
        request.session[DECIDED_SESSION] = decision_outcomes_kept(decided.done)
        text = (ngettext("%(count)d person approved.", "%(count)d people approved.", done) if decision == "approve"
                else ngettext("%(count)d person rejected.", "%(count)d people rejected.", done))
        messages.success(request, text % {"count": done})
    for item, why in decided.refused[:REFUSALS_SHOWN]:
        messages.error(request, f"{item.display_email}: {why}")
    if len(decided.refused) > REFUSALS_SHOWN:
        more = len(decided.refused) - REFUSALS_SHOWN
        messages.error(request, ngettext("… and %(count)d more person was not decided.",
                                         "… and %(count)d more people were not decided.", more) % {"count": more})
    if not done and not decided.refused:
        messages.error(request, NOTHING_CHOSEN)
