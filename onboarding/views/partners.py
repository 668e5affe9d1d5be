"""A partner's page: agreement, people with their timelines, requests, invites, failed mail and the funnel; and the
partner list.

Every list is paged (core.paging), each through its own query parameter, so the page costs the same few
queries, and about the same time, for a partner of three people as for one of fifty thousand. The lists that grow
with a partner's people (pending, everyone requested, invites, lists) each have a filter of their own, under the
list's name as a prefix (`?pending-q=pat&invites-state=failed`): filtering one list resets only that list's page
and keeps the others' filters and pages; how many match joins the page's one query of counts.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import PARTNER_ROLES
from core.conflicts import conflicts_refused
from core.errors import PortalError
from core.mail import outbound_mail_resend
from core.paging import page_of
from onboarding import selectors
from onboarding.errors import MAIL_RESENT
from onboarding.forms import (
    InviteFilterForm,
    ListsFilterForm,
    PartnerFilterForm,
    PendingFilterForm,
    RequestedFilterForm,
)
from onboarding.models import OPEN_INVITE_STATES
from onboarding.permissions import may_download_agreement, may_export_people, may_review, may_submit
from partners.selectors import current_agreement

# The partner page shows seven lists at once: each a shorter page than a list of its own (core.paging.PAGE_SIZE),
# so that the page stays quick to draw and to read.
SECTION_SIZE = 25

# The partner page's filtered lists: each list's name (its page parameter, its section's id and its filter's
# prefix) and its filter.
SECTION_FILTERS = {
    "pending": PendingFilterForm,
    "requested": RequestedFilterForm,
    "invites": InviteFilterForm,
    "lists": ListsFilterForm,
}


@dataclass
class ListFilter:
    """A list's filter as its template draws it (templates/onboarding/_list_filter.html): the form, the page's
    other parameters to keep (hidden), the link that clears it, how many rows the list has and how many match."""

    form: Form
    keep: list[tuple[str, str]]
    clear_url: str
    total: int
    matching: int
    anchor: str = ""

    @property
    def active(self) -> bool:
        return self.form.active


def _other_parameters(query: QueryDict, form: Form, page_param: str) -> list[tuple[str, str]]:
    """The query's parameters that a filter form keeps as hidden fields: all but its own fields and its list's page
    (a new filter starts on the first page), and none left empty."""
    own = {form.add_prefix(name) for name in form.fields} | {page_param}
    return [(name, value) for name, values in query.lists() if name not in own for value in values if value]


def list_filter(request: HttpRequest, form: Form, *, page_param: str, total: int, matching: int,
                anchor: str = "") -> ListFilter:
    """A list's filter for templates/onboarding/_list_filter.html (the people pages use it too)."""
    keep = _other_parameters(request.GET, form, page_param)
    query = QueryDict(mutable=True)
    for name, value in keep:
        query.appendlist(name, value)
    clear_url = f"{request.path}?{query.urlencode()}" if query else request.path
    return ListFilter(form=form, keep=keep, clear_url=clear_url + (f"#{anchor}" if anchor else ""), total=total,
                      matching=matching, anchor=anchor)


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    """Account managers' partners (admins: all), a page at a time, each with its onboarding funnel; searched by
    the beginning of the name and filtered by kind, agreement and people waiting."""
    if request.user.role in PARTNER_ROLES:
        return redirect("onboarding:partner_detail", slug=request.user.partner.slug)
    form = PartnerFilterForm(request.GET)
    visible = selectors.partners_visible_to(user=request.user)
    overview = selectors.partner_overview(partners=visible)
    if form.active:
        overview = selectors.partners_matching(overview, **form.filters())
    partners = page_of(overview, request=request)
    total = visible.count() if form.active else partners.paginator.count  # "3 of 40 match": one query more
    ids = [partner.pk for partner in partners]
    # One grouped query each for the whole page, not two per partner.
    funnels = selectors.partner_funnels(partner_ids=ids)
    times = selectors.times_to_access(partner_ids=ids)
    for partner in partners:
        partner.funnel = funnels[partner.pk]
        partner.time_to_access = times.get(partner.pk)
    return render(request, "onboarding/partner_list.html", {
        "partners": partners,
        "filter": list_filter(request, form, page_param="page", total=total, matching=partners.paginator.count),
    })


@login_required
def partner_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The partner's onboarding; its account manager also sees what failed to go out, to send it again."""
    partner = selectors.partner_for(user=request.user, slug=slug)
    reviewer = may_review(request.user, partner)
    forms = {name: form_class(request.GET, prefix=name) for name, form_class in SECTION_FILTERS.items()}
    filters = {name: form.filters() for name, form in forms.items() if form.active}
    # Every list's length, and how many of each filtered list match, in one query.
    counts = selectors.partner_counts(partner=partner, filters=filters)
    totals = {"pending": counts.pending, "requested": counts.requested, "invites": counts.invites,
              "lists": counts.lists}

    def page(items, param: str, count: int):
        return page_of(items, request=request, param=param, count=count, per_page=SECTION_SIZE)

    def filtered(name: str, selector):
        narrowed = filters.get(name, {})
        return page(selector(partner=partner, **narrowed), name, counts.matching.get(name, totals[name]))

    context = {
        "partner": partner,
        "agreement": current_agreement(partner=partner),
        "people": page(selectors.partner_people(partner=partner), "people", counts.people),
        "pending_items": filtered("pending", selectors.partner_pending_items),
        "items": filtered("requested", selectors.partner_items),
        "requests": filtered("lists", selectors.partner_requests),
        "invites": filtered("invites", selectors.partner_invites),
        "list_filters": {
            name: list_filter(request, form, page_param=name, total=totals[name],
                               matching=counts.matching.get(name, totals[name]), anchor=name)
            for name, form in forms.items()
        },
        "open_states": OPEN_INVITE_STATES,
        "may_submit": may_submit(request.user, partner),
        "may_review": reviewer,
        "may_download_agreement": may_download_agreement(request.user, partner),
        "may_export_people": may_export_people(request.user, partner),
    }
    for listed in (context["pending_items"], context["items"]):
        selectors.follow_ups_marked(listed)
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
    selectors.follow_ups_marked([item])
    events = page_of(selectors.item_events(item=item), request=request)
    return render(request, "onboarding/person_timeline.html", {
        "partner": partner, "item": item, "events": events, "timeline": selectors.timeline_steps(events),
        "may_submit": may_submit(request.user, partner),
    })
