"""The account manager's review queue: approve or reject item by item, or all at once."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import VENDOR_ROLES
from core.conflicts import conflicts_refused
from onboarding.errors import NOTHING_CHOSEN, REASON_CONTROL_CHARACTERS, REASON_REQUIRED, REFUSED
from onboarding.selectors import review_items_chosen, review_queue
from onboarding.services.review import request_item_approve, request_item_reject
from onboarding.validators import has_control_characters


def _require_vendor_staff(user) -> None:
    if user.role not in VENDOR_ROLES:
        raise PermissionDenied


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Submitted lists of this account manager's partners (admins: all), oldest first."""
    _require_vendor_staff(request.user)
    items = list(review_queue(user=request.user))
    return render(request, "onboarding/review_queue.html", {"items": items})


@login_required
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject the chosen items (one, or all ticked); a rejection needs its reason."""
    _require_vendor_staff(request.user)
    # Scoped to this person's partners: another partner's item id is simply not found.
    wanted = {int(pk) for pk in request.POST.getlist("item") if pk.isdigit()}
    items = review_items_chosen(user=request.user, ids=wanted)
    decision = request.POST.get("decision")
    reason = request.POST.get("reason", "").strip()
    if not items:
        messages.error(request, NOTHING_CHOSEN)
        return redirect("onboarding:review_queue")
    if decision == "reject" and not reason:
        messages.error(request, REASON_REQUIRED)
        return redirect("onboarding:review_queue")
    if decision == "reject" and has_control_characters(reason):
        messages.error(request, REASON_CONTROL_CHARACTERS)  # once, not once per chosen item (the service refuses)
        return redirect("onboarding:review_queue")
    done, refused = 0, []
    for item in items:
        try:
            with conflicts_refused():
                if decision == "approve":
                    request_item_approve(item=item, actor=request.user, request=request)
                elif decision == "reject":
                    request_item_reject(item=item, actor=request.user, reason=reason, request=request)
                else:
                    continue
            done += 1
        except REFUSED as exc:
            refused.append(f"{item.display_email}: {exc}")
    if done:
        messages.success(request, f"{done} {'person' if done == 1 else 'people'} {decision}d.")
    for line in refused:
        messages.error(request, line)
    return redirect("onboarding:review_queue")
