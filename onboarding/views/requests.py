"""Submitting a list of people (form rows or CSV), checked live against the directory, and its page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from core.conflicts import conflicts_refused
from core.paging import page_of
from onboarding.errors import REFUSED
from onboarding.forms import CsvListForm, ListDetailsForm, PersonRowFormSet
from onboarding.models import RequestSource
from onboarding.permissions import may_review, may_submit
from onboarding.selectors import partner_for, partner_request, request_items
from onboarding.services.checks import row_check, rows_check
from onboarding.services.requests import MAX_ROWS, request_source, request_submit, rows_from_csv
from partners.selectors import current_agreement


def _submitted(count: int) -> str:
    """The message for a submitted list (the English says "people" for one too)."""
    return ngettext("The list of %(count)d people is submitted.", "The list of %(count)d people is submitted.",
                    count) % {"count": count}


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, slug: str) -> HttpResponse:
    """The list form: rows of name and email, or a CSV file. "Check" labels the rows without saving."""
    partner = partner_for(user=request.user, slug=slug)
    if not may_submit(request.user, partner):
        raise Http404
    agreement = current_agreement(partner=partner)
    formset = PersonRowFormSet(request.POST or None, prefix="rows")
    details = ListDetailsForm(request.POST or None)
    csv_form = CsvListForm(prefix="csv")
    checks = []
    if request.method == "POST" and "csv-file" in request.FILES:
        csv_form = CsvListForm(request.POST, request.FILES, prefix="csv")
        if csv_form.is_valid():
            try:
                # The file itself, not its bytes: its size is checked before it is read, then row by row.
                rows = rows_from_csv(csv_form.cleaned_data["file"], partner=partner)
                with conflicts_refused():
                    portal_request = request_submit(
                        partner=partner, actor=request.user, rows=rows,
                        source=request_source(actor=request.user, partner=partner, csv=True),
                        note=csv_form.cleaned_data["note"], received_from=csv_form.cleaned_data["received_from"],
                        request=request,
                    )
            except REFUSED as exc:
                csv_form.add_error("file", str(exc))
            else:
                messages.success(request, _submitted(portal_request.items.count()))
                return redirect("onboarding:request_detail", slug=partner.slug, request_id=portal_request.pk)
    elif request.method == "POST" and formset.is_valid() and details.is_valid():
        rows = [(f.cleaned_data.get("name", ""), f.cleaned_data.get("email", ""), f.cleaned_data.get("role", ""))
                for f in formset.forms]
        if "check" in request.POST:
            checks = rows_check(partner=partner, emails=[email for _, email, _ in rows])
        else:
            try:
                with conflicts_refused():
                    portal_request = request_submit(
                        partner=partner, actor=request.user, rows=rows,
                        source=request_source(actor=request.user, partner=partner, csv=False),
                        note=details.cleaned_data["note"], received_from=details.cleaned_data["received_from"],
                        request=request,
                    )
            except REFUSED as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _submitted(portal_request.items.count()))
                return redirect("onboarding:request_detail", slug=partner.slug, request_id=portal_request.pk)
    rows = list(zip(formset.forms, checks or [None] * len(formset.forms), strict=False))
    return render(request, "onboarding/request_new.html", {
        "partner": partner, "agreement": agreement, "formset": formset, "rows": rows, "details": details,
        "csv_form": csv_form,
        "on_behalf": request_source(actor=request.user, partner=partner, csv=False) == RequestSource.ON_BEHALF,
    })


@login_required
@require_http_methods(["GET", "POST"])
def request_row_check(request: HttpRequest, slug: str) -> HttpResponse:
    """htmx: the label of one row, given the addresses of the rows above it (for duplicates). The form posts
    them (a long list's addresses would not fit in a URL); a fixed number of queries however many there are."""
    partner = partner_for(user=request.user, slug=slug)
    if not may_submit(request.user, partner):
        raise Http404
    data = request.POST if request.method == "POST" else request.GET
    try:
        row = int(data.get("row", request.GET.get("row", "")))
    except ValueError as exc:
        raise Http404 from exc
    if not 0 <= row < MAX_ROWS:
        raise Http404
    emails = [data.get(f"rows-{i}-email", "").strip() for i in range(row + 1)]
    email = emails[-1] if emails else ""
    check = row_check(partner=partner, email=email, earlier=[e for e in emails[:-1] if e]) if email else None
    return render(request, "onboarding/_row_check.html", {"check": check, "row": row})


@login_required
def request_detail(request: HttpRequest, slug: str, request_id: int) -> HttpResponse:
    """A submitted list, a page at a time: every person, their state and every decision with its reason."""
    partner = partner_for(user=request.user, slug=slug)
    portal_request = partner_request(partner=partner, request_id=request_id)
    items = page_of(request_items(portal_request=portal_request), request=request)
    return render(request, "onboarding/request_detail.html", {
        "partner": partner, "portal_request": portal_request, "items": items,
        "may_review": may_review(request.user, partner),
    })
