"""Asking again for a person whose request ended without access (the partner page and the person's timeline)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from core.conflicts import conflicts_refused
from onboarding import selectors
from onboarding.errors import REFUSED
from onboarding.permissions import may_submit
from onboarding.services.asking_again import request_item_ask_again


def _back(request: HttpRequest, slug: str) -> HttpResponse:
    """To the page the button was on (its `next`, if it is a path of this site), else the partner page."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return redirect(back)
    return redirect("onboarding:partner_detail", slug=slug)


@login_required
@require_POST
def ask_again(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """Request the person again (the primary of an alias, or the same address) as a new list for the queue."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    if not may_submit(request.user, partner):  # partner staff see the page but do not request people
        raise Http404
    item = selectors.partner_item(partner=partner, item_id=item_id)
    try:
        with conflicts_refused():
            follow_up = request_item_ask_again(item=item, actor=request.user, note=request.POST.get("note", ""),
                                               request=request)
    except REFUSED as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("{email} is requested again: the account manager reviews it.").format(
            email=follow_up.display_email))
    return _back(request, slug)
