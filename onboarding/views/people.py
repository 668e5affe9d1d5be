"""People with access: a partner's portal users with their status, each person's page and timeline, and the
changes to their access (deactivate, reactivate, remove, partner admin or staff).

For the partner's admins (their own partner), its account manager and admins; everyone else gets 404, as for
anything outside what they may see. Every change goes through accounts.services.access (onboarding's
person_remove for a removal, which also revokes open invitations).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.errors import (
    PERSON_DEACTIVATED,
    PERSON_NOT_SIGNER,
    PERSON_REACTIVATED,
    PERSON_REMOVED,
    PERSON_ROLE_CHANGED,
    PERSON_SIGNER,
    AccessRefused,
)
from accounts.models import ENDED_BY_DIRECTORY, AccessEnded, Role, User
from accounts.services.access import user_deactivate, user_reactivate, user_set_role
from core.conflicts import conflicts_refused
from core.errors import ConcurrentChange
from core.paging import page_of
from onboarding import selectors
from onboarding.forms import PeopleFilterForm, PersonChangeForm
from onboarding.permissions import may_manage_people, may_review
from onboarding.selectors.people import partner_people_with_status, partner_person, with_status
from onboarding.selectors.timeline import person_events
from onboarding.services.people import person_remove
from onboarding.views.partners import list_filter
from partners.errors import AgreementRefused
from partners.models import Partner
from partners.selectors import agreement_is_signer
from partners.services import agreement_signer_set


def _partner(request: HttpRequest, slug: str) -> Partner:
    partner = selectors.partner_for(user=request.user, slug=slug)  # 404 outside what the person may see
    if not may_manage_people(request.user, partner):
        raise Http404
    return partner


@login_required
def people(request: HttpRequest, slug: str) -> HttpResponse:
    """The partner's people with access, a page at a time, searchable and filtered by status and role."""
    partner = _partner(request, slug)
    form = PeopleFilterForm(request.GET)
    filters = form.filters()
    page = page_of(partner_people_with_status(partner=partner, search=filters["search"], status=filters["state"],
                                              role=filters["role"]), request=request)
    page.object_list = with_status(page.object_list)
    # "3 of 40 match": one query more, only while filtered.
    total = partner_people_with_status(partner=partner).count() if form.active else page.paginator.count
    return render(request, "onboarding/people.html", {
        "partner": partner, "people": page,
        "filter": list_filter(request, form, page_param="page", total=total, matching=page.paginator.count),
    })


def _actions(person: User, viewer, partner: Partner) -> list[str]:
    """The changes the viewer may ask for on this person's page (the services still decide)."""
    if person.pk == viewer.pk:
        return []
    actions = []
    # Who may sign the partner's agreements is the vendor's call: its account manager's, or an admin's.
    if may_review(viewer, partner) and person.is_active and person.role == Role.PARTNER_ADMIN:
        actions.append("unmake_signer" if person.is_signer else "make_signer")
    if person.is_active:
        actions.append("deactivate")
    elif person.access_ended in (AccessEnded.DEACTIVATED, *ENDED_BY_DIRECTORY):
        actions.append("reactivate")
    if person.access_ended != AccessEnded.REMOVED:
        actions.append("make_partner_staff" if person.role == Role.PARTNER_ADMIN else "make_partner_admin")
        actions.append("remove")
    return actions


@login_required
def person(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """One person: role, status, last sign-in, second factor, what they may be changed to, and their timeline."""
    partner = _partner(request, slug)
    person = with_status([partner_person(partner=partner, user_id=user_id)])[0]
    person.is_signer = agreement_is_signer(user=person, partner=partner)
    events = page_of(person_events(user=person), request=request)
    return render(request, "onboarding/person.html", {
        "partner": partner, "person": person, "actions": _actions(person, request.user, partner),
        "confirm_remove": request.GET.get("confirm") == "remove",
        "events": events, "timeline": selectors.timeline_steps(events),
    })


@login_required
@require_POST
def person_change(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Deactivate, reactivate, remove (confirmed), or make partner admin / partner staff."""
    partner = _partner(request, slug)
    person = partner_person(partner=partner, user_id=user_id)
    form = PersonChangeForm(request.POST)
    if not form.is_valid():
        raise Http404  # not a button of the page
    action = form.cleaned_data["action"]
    if action == "remove" and not form.cleaned_data["confirmed"]:
        return redirect(f"{reverse('onboarding:person', args=[slug, user_id])}?confirm=remove")
    if action in ("make_signer", "unmake_signer") and not may_review(request.user, partner):
        raise Http404  # not a button this person's page shows them
    try:
        with conflicts_refused():
            message = _change(request, partner, person, action)
    except (AccessRefused, AgreementRefused, ConcurrentChange) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message)
    return redirect("onboarding:person", slug=slug, user_id=user_id)


def _change(request: HttpRequest, partner: Partner, person: User, action: str) -> str:
    actor, email = request.user, person.display_email
    if action in ("make_signer", "unmake_signer"):
        authorised = action == "make_signer"
        agreement_signer_set(partner=partner, user=person, authorised=authorised, actor=actor, request=request)
        return (PERSON_SIGNER if authorised else PERSON_NOT_SIGNER).format(email=email)
    if action == "deactivate":
        user_deactivate(user=person, actor=actor, request=request)
        return PERSON_DEACTIVATED.format(email=email)
    if action == "reactivate":
        user_reactivate(user=person, actor=actor, request=request)
        return PERSON_REACTIVATED.format(email=email)
    if action == "remove":
        person_remove(user=person, actor=actor, request=request)
        return PERSON_REMOVED.format(email=email)
    role = Role.PARTNER_ADMIN if action == "make_partner_admin" else Role.PARTNER_STAFF
    person = user_set_role(user=person, role=role, actor=actor, request=request)
    return PERSON_ROLE_CHANGED.format(email=email, role=person.get_role_display().lower())
