"""A partner's page: agreement, people with their timelines, requests, invites and the funnel."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import PARTNER_ROLES
from onboarding import selectors
from onboarding.models import OPEN_INVITE_STATES
from onboarding.permissions import may_review, may_submit
from partners.selectors import current_agreement


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    """Account managers' partners (admins: all), each with its onboarding funnel."""
    if request.user.role in PARTNER_ROLES:
        return redirect("onboarding:partner_detail", slug=request.user.partner.slug)
    partners = list(selectors.partner_overview(partners=selectors.partners_visible_to(user=request.user)))
    for partner in partners:
        partner.funnel = selectors.funnel(partner=partner)
        partner.time_to_access = selectors.time_to_access(partner=partner)
    return render(request, "onboarding/partner_list.html", {"partners": partners})


@login_required
def partner_detail(request: HttpRequest, slug: str) -> HttpResponse:
    partner = selectors.partner_for(user=request.user, slug=slug)
    items = selectors.partner_items(partner=partner)
    return render(request, "onboarding/partner_detail.html", {
        "partner": partner,
        "agreement": current_agreement(partner=partner),
        "people": selectors.partner_people(partner=partner),
        "pending_items": items.filter(state__in=selectors.PENDING_STATES),
        "items": items[:100],
        "requests": selectors.partner_requests(partner=partner)[:20],
        "invites": selectors.partner_invites(partner=partner)[:100],
        "open_states": OPEN_INVITE_STATES,
        "funnel": selectors.funnel(partner=partner),
        "time_to_access": selectors.time_to_access(partner=partner),
        "may_submit": may_submit(request.user, partner),
        "may_review": may_review(request.user, partner),
    })


@login_required
def person_timeline(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """One requested person: requested → approved → found in directory → invited → accepted → two-factor."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    item = selectors.partner_item(partner=partner, item_id=item_id)
    return render(request, "onboarding/person_timeline.html", {
        "partner": partner, "item": item, "timeline": selectors.item_timeline(item=item),
        "invites": selectors.item_invites(item=item),
    })
