"""A partner's page: agreement, people with their timelines, requests, invites, failed mail and the funnel."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import PARTNER_ROLES
from core.conflicts import conflicts_refused
from core.errors import PortalError
from core.mail import outbound_mail_resend
from onboarding import selectors
from onboarding.errors import MAIL_RESENT
from onboarding.models import OPEN_INVITE_STATES
from onboarding.permissions import may_download_agreement, may_review, may_submit
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
    """The partner's onboarding; its account manager also sees what failed to go out, to send it again."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    items = selectors.partner_items(partner=partner)
    reviewer = may_review(request.user, partner)
    return render(request, "onboarding/partner_detail.html", {
        "partner": partner,
        "agreement": current_agreement(partner=partner),
        "people": selectors.partner_people(partner=partner),
        "pending_items": items.filter(state__in=selectors.PENDING_STATES),
        "items": items[:100],
        "requests": selectors.partner_requests(partner=partner)[:20],
        "invites": selectors.partner_invites(partner=partner)[:100],
        "failed_invites": selectors.partner_failed_invites(partner=partner)[:50] if reviewer else [],
        "failed_mail": selectors.partner_failed_mail(partner=partner)[:50] if reviewer else [],
        "open_states": OPEN_INVITE_STATES,
        "funnel": selectors.funnel(partner=partner),
        "time_to_access": selectors.time_to_access(partner=partner),
        "may_submit": may_submit(request.user, partner),
        "may_review": reviewer,
        "may_download_agreement": may_download_agreement(request.user, partner),
    })


@login_required
@require_POST
def mail_resend(request: HttpRequest, slug: str, mail_id: int) -> HttpResponse:
    """Send a failed notification about this partner again (its account manager, or an admin)."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    if not may_review(request.user, partner):
        raise Http404
    mail = selectors.partner_mail(partner=partner, mail_id=mail_id)
    try:
        with conflicts_refused():
            outbound_mail_resend(mail=mail, actor=request.user, request=request)
        messages.success(request, MAIL_RESENT.format(to=mail.to))
    except PortalError as exc:  # core's refusal (sent already) as well as onboarding's
        messages.error(request, str(exc))
    return redirect("onboarding:partner_detail", slug=slug)


@login_required
def person_timeline(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """One requested person: requested → approved → found in directory → invited → accepted → two-factor."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    item = selectors.partner_item(partner=partner, item_id=item_id)
    return render(request, "onboarding/person_timeline.html", {
        "partner": partner, "item": item, "timeline": selectors.item_timeline(item=item),
        "invites": selectors.item_invites(item=item),
    })
