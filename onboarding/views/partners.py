"""A partner's page: agreement, people with their timelines, requests, invites and the funnel."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import Role
from onboarding.models import OPEN_INVITE_STATES, Invite, ItemState, PortalUserRequest, RequestItem
from onboarding.permissions import may_review, may_submit
from onboarding.selectors import (
    current_agreement,
    funnel,
    item_timeline,
    partner_for,
    partner_overview,
    partners_visible_to,
    time_to_access,
)


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    """Account managers' partners (admins: all), each with its onboarding funnel."""
    if request.user.role in (Role.PARTNER_ADMIN, Role.PARTNER_STAFF):
        return redirect("partner_detail", slug=request.user.partner.slug)
    partners = list(partner_overview(partners=partners_visible_to(user=request.user)))
    for partner in partners:
        partner.funnel = funnel(partner=partner)
        partner.time_to_access = time_to_access(partner=partner)
    return render(request, "onboarding/partner_list.html", {"partners": partners})


@login_required
def partner_detail(request: HttpRequest, slug: str) -> HttpResponse:
    partner = partner_for(user=request.user, slug=slug)
    items = (
        RequestItem.objects.filter(partner=partner)
        .select_related("request__submitted_by", "user", "decided_by")
        .order_by("-created_at")
    )
    people = partner.members.filter(is_active=True).order_by("full_name", "email")
    requests = PortalUserRequest.objects.filter(partner=partner).select_related("submitted_by").prefetch_related(
        Prefetch("items", queryset=RequestItem.objects.order_by("id"))
    )[:20]
    invites = Invite.objects.filter(partner=partner).exclude(state="accepted").select_related("item")
    return render(request, "onboarding/partner_detail.html", {
        "partner": partner,
        "agreement": current_agreement(partner=partner),
        "people": people,
        "pending_items": items.filter(state__in=[ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION,
                                                 ItemState.INVALID_ADDRESS]),
        "items": items[:100],
        "requests": requests,
        "invites": invites.order_by("-created_at")[:100],
        "open_states": OPEN_INVITE_STATES,
        "funnel": funnel(partner=partner),
        "time_to_access": time_to_access(partner=partner),
        "may_submit": may_submit(request.user, partner),
        "may_review": may_review(request.user, partner),
    })


@login_required
def person_timeline(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """One requested person: requested → approved → found in directory → invited → accepted → two-factor."""
    partner = partner_for(user=request.user, slug=slug)
    item = get_object_or_404(RequestItem.objects.select_related("request__submitted_by"), pk=item_id, partner=partner)
    return render(request, "onboarding/person_timeline.html", {
        "partner": partner, "item": item, "timeline": item_timeline(item=item),
        "invites": item.invites.order_by("-created_at"),
    })
