"""A partner's page: agreement, people with their timelines, requests, invites, failed mail and the funnel.

Every list is paged (core.paging), each through its own query parameter, so the page costs the same few
queries, and about the same time, for a partner of three people as for one of fifty thousand.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import PARTNER_ROLES
from core.conflicts import conflicts_refused
from core.errors import PortalError
from core.mail import outbound_mail_resend
from core.paging import page_of
from onboarding import selectors
from onboarding.errors import MAIL_RESENT
from onboarding.models import OPEN_INVITE_STATES
from onboarding.permissions import may_download_agreement, may_export_people, may_review, may_submit
from partners.selectors import current_agreement

# The partner page shows seven lists at once: each a shorter page than a list of its own (core.paging.PAGE_SIZE),
# so that the page stays quick to draw and to read.
SECTION_SIZE = 25


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    """Account managers' partners (admins: all), a page at a time, each with its onboarding funnel."""
    if request.user.role in PARTNER_ROLES:
        return redirect("onboarding:partner_detail", slug=request.user.partner.slug)
    partners = page_of(selectors.partner_overview(partners=selectors.partners_visible_to(user=request.user)),
                       request=request)
    ids = [partner.pk for partner in partners]
    # One grouped query each for the whole page, not two per partner.
    funnels = selectors.partner_funnels(partner_ids=ids)
    times = selectors.times_to_access(partner_ids=ids)
    for partner in partners:
        partner.funnel = funnels[partner.pk]
        partner.time_to_access = times.get(partner.pk)
    return render(request, "onboarding/partner_list.html", {"partners": partners})


@login_required
def partner_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The partner's onboarding; its account manager also sees what failed to go out, to send it again."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    reviewer = may_review(request.user, partner)
    counts = selectors.partner_counts(partner=partner)  # every list's length, in one query

    def page(items, param: str, count: int):
        return page_of(items, request=request, param=param, count=count, per_page=SECTION_SIZE)

    context = {
        "partner": partner,
        "agreement": current_agreement(partner=partner),
        "people": page(selectors.partner_people(partner=partner), "people", counts.people),
        "pending_items": page(selectors.partner_pending_items(partner=partner), "pending", counts.pending),
        "items": page(selectors.partner_items(partner=partner), "requested", counts.requested),
        "requests": page(selectors.partner_requests(partner=partner), "lists", counts.lists),
        "invites": page(selectors.partner_invites(partner=partner), "invites", counts.invites),
        "open_states": OPEN_INVITE_STATES,
        "may_submit": may_submit(request.user, partner),
        "may_review": reviewer,
        "may_download_agreement": may_download_agreement(request.user, partner),
        "may_export_people": may_export_people(request.user, partner),
    }
    if reviewer:  # what failed to go out, and the funnel, are the account manager's
        context |= {
            "failed_invites": page(selectors.partner_failed_invites(partner=partner), "failed", counts.failed_invites),
            "failed_mail": page(selectors.partner_failed_mail(partner=partner), "mail", counts.failed_mail),
            "funnel": counts.funnel,
            "time_to_access": selectors.time_to_access(partner=partner),
        }
    return render(request, "onboarding/partner_detail.html", context)


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
    events = page_of(selectors.item_events(item=item), request=request)
    return render(request, "onboarding/person_timeline.html", {
        "partner": partner, "item": item, "events": events, "timeline": selectors.timeline_steps(events),
        "may_submit": may_submit(request.user, partner),
    })
