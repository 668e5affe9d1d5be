"""The people of an account without a directory server (CSV-sourced), kept by the partner: a searchable, paged
list; adding, changing and removing one person; a change file checked (a dry run with its counts) before it is
applied; and who changed what.

The partner's admins (their own partner), its account manager and admins may; anyone else gets a 404, partner
staff included, as for every other change of a partner's onboarding. Every change goes through
directory_sync.services.people_edits, which checks, audits and announces it.
"""

import base64
import binascii

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from core.conflicts import conflicts_refused
from core.errors import PortalError
from core.paging import page_of
from directory_sync.errors import CsvInvalid
from directory_sync.models import DirectoryUserStatus, SourceKind
from directory_sync.services import people_edits
from onboarding import selectors
from onboarding.forms_directory import ChangeFileApplyForm, ChangeFileForm, DirectoryPersonForm
from onboarding.permissions import may_maintain_directory, may_review
from onboarding.selectors import directory as directory_selectors
from onboarding.selectors.domains import vendor_domains_refused
from partners.models import Partner

# A change file travels back from its preview in the page (base64 in a hidden field, under the request body's
# limit): a list of more people than this is the whole list, which the account manager imports instead.
CHANGE_FILE_MAX_BYTES = 2 * 1024 * 1024


def _partner(request: HttpRequest, slug: str) -> Partner:
    partner = selectors.partner_for(user=request.user, slug=slug)  # 404 outside what the person may see
    if not may_maintain_directory(request.user, partner):
        raise Http404
    return partner


def _source_note(partner: Partner) -> str:
    """Why this account's people cannot be kept here, or "" when they can (a CSV-sourced account)."""
    connection = directory_selectors.directory_connection_of(partner=partner)
    if connection is None:
        return str(people_edits.NO_CONNECTION).format(partner=partner.name)
    if connection.kind != SourceKind.CSV:
        return str(people_edits.NOT_CSV).format(partner=partner.name)
    return ""


def _to_list(slug: str) -> HttpResponse:
    return redirect("onboarding:directory_people", slug=slug)


@login_required
def people(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's people a page at a time, searched by the beginning of a name or address."""
    partner = _partner(request, slug)
    search, status = request.GET.get("q", "").strip()[:254], request.GET.get("status", "")
    listed = directory_selectors.directory_people(partner=partner, search=search, status=status)
    context = {
        "partner": partner,
        "people": page_of(listed, request=request),
        "search": search,
        "status": status if status in directory_selectors.STATUSES else "",
        "statuses": DirectoryUserStatus.choices,
        "source_note": _source_note(partner),
        "upload_form": ChangeFileForm(),
        "max_size": CHANGE_FILE_MAX_BYTES,
        "may_review": may_review(request.user, partner),
    }
    return render(request, "onboarding/directory_people.html", context)


def _refused_on_form(form: DirectoryPersonForm, exc: PortalError) -> None:
    """Each of the service's reasons on its field (the form's top when it names none)."""
    for field, message in getattr(exc, "errors", [("", str(exc))]):
        form.add_error(field if field in form.fields else None, message)


def _person_form_page(request: HttpRequest, partner, form: DirectoryPersonForm, person, save) -> HttpResponse:
    """A person's form: posted and valid, `save()` (a service call, returning the message) and back to the list;
    else the form again, with the service's reasons on their fields (400)."""
    if request.method == "POST" and form.is_valid():
        try:
            with conflicts_refused():
                message = save()
        except PortalError as exc:
            _refused_on_form(form, exc)
        else:
            messages.success(request, message)
            return _to_list(partner.slug)
    return render(request, "onboarding/directory_person_form.html",
                  {"partner": partner, "form": form, "person": person, "source_note": _source_note(partner)},
                  status=400 if form.errors else 200)


@login_required
def person_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add one person to the account."""
    partner = _partner(request, slug)
    form = DirectoryPersonForm(request.POST or None, with_active=False)

    def save() -> str:
        added = people_edits.directory_person_add(
            partner=partner, actor=request.user, request=request,
            domain_check=vendor_domains_refused(partner), **form.cleaned_lists())
        return gettext("{name} was added.").format(name=added.display_name)

    return _person_form_page(request, partner, form, None, save)


@login_required
def person_edit(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """Change one person's name, addresses or active state."""
    partner = _partner(request, slug)
    person = directory_selectors.directory_person(partner=partner, person_id=person_id)
    if person is None:
        raise Http404
    addresses = {kind: [a.display_address for a in person.addresses.all() if a.kind == kind]
                 for kind in ("primary", "alias", "forwarding")}
    initial = {"name": person.display_name, "primary": (addresses["primary"] or [""])[0],
               "aliases": "\n".join(addresses["alias"]), "forwarding": "\n".join(addresses["forwarding"]),
               "active": person.status == DirectoryUserStatus.ACTIVE}
    form = DirectoryPersonForm(request.POST or None, initial=initial)

    def save() -> str:
        changed = people_edits.directory_person_change(
            partner=partner, actor=request.user, request=request, person_id=person.pk,
            disabled=not form.cleaned_data["active"], domain_check=vendor_domains_refused(partner),
            **form.cleaned_lists())
        return gettext("{name} was saved.").format(name=changed.display_name)

    return _person_form_page(request, partner, form, person, save)


@login_required
def person_remove(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """Ask, then remove one person from the account (kept as removed for the record; their addresses freed)."""
    partner = _partner(request, slug)
    person = directory_selectors.directory_person(partner=partner, person_id=person_id)
    if person is None:
        raise Http404
    if request.method == "POST":
        try:
            with conflicts_refused():
                people_edits.directory_person_remove(partner=partner, actor=request.user, person_id=person.pk,
                                                     request=request)
        except PortalError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("{name} was removed from the account.").format(
                name=person.display_name))
        return _to_list(slug)
    return render(request, "onboarding/directory_person_remove.html", {"partner": partner, "person": person})


def _problems(exc: PortalError) -> list[str]:
    """A refused file's reasons, one line each, with their row numbers."""
    if isinstance(exc, CsvInvalid):
        lines = [gettext("Row {row}: {reason}").format(row=row, reason=reason) for row, reason in exc.problems[:100]]
        if len(exc.problems) > 100:
            lines.append(gettext("… and {count} more").format(count=len(exc.problems) - 100))
        return lines
    return [str(exc)]


def _refused(request: HttpRequest, partner: Partner, problems: list[str], *,
             upload_form: ChangeFileForm | None = None) -> HttpResponse:
    """The file's reasons (nothing was changed), and the form to upload it again once fixed."""
    return render(request, "onboarding/directory_change_preview.html", {
        "partner": partner, "problems": problems, "upload_form": upload_form or ChangeFileForm(),
        "max_size": CHANGE_FILE_MAX_BYTES,
    }, status=400)


@login_required
@require_POST
def change_file_check(request: HttpRequest, slug: str) -> HttpResponse:
    """A dry run of an uploaded change file: its counts (and the brake's answer) before anything changes."""
    partner = _partner(request, slug)
    form = ChangeFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, partner, [" ".join(form.errors["file"])], upload_form=form)
    upload = form.cleaned_data["file"]
    if upload.size > CHANGE_FILE_MAX_BYTES:  # before a byte of it is read
        return _refused(request, partner, upload_form=form, problems=[gettext(
            "The file is {size}; a change file may be at most {limit}. Ask your account manager to import the "
            "whole list instead.").format(size=filesizeformat(upload.size), limit=filesizeformat(
                CHANGE_FILE_MAX_BYTES))])
    data = upload.read()
    try:
        with conflicts_refused():
            summary = people_edits.directory_changes_apply(partner=partner, actor=request.user, data=data,
                                                           dry_run=True, domain_check=vendor_domains_refused(partner))
    except PortalError as exc:
        return _refused(request, partner, _problems(exc), upload_form=form)
    apply_form = ChangeFileApplyForm(initial={"content": base64.b64encode(data).decode("ascii")})
    return render(request, "onboarding/directory_change_preview.html", {
        "partner": partner, "summary": summary, "apply_form": apply_form, "file_name": upload.name,
        "may_force": may_review(request.user, partner),
    })


@login_required
@require_POST
def change_file_apply(request: HttpRequest, slug: str) -> HttpResponse:
    """Apply a change file checked before (checked again now, whole: nothing changes if anything is wrong)."""
    partner = _partner(request, slug)
    form = ChangeFileApplyForm(request.POST)
    try:
        data = base64.b64decode(form.data.get("content", ""), validate=True) if form.is_valid() else b""
    except (binascii.Error, ValueError):
        data = b""
    if not data:
        messages.error(request, gettext("The change file did not come back whole: upload it again."))
        return _to_list(slug)
    force = form.cleaned_data["force"] and may_review(request.user, partner)  # vendor staff only
    try:
        with conflicts_refused():
            summary = people_edits.directory_changes_apply(partner=partner, actor=request.user, data=data,
                                                           force=force, request=request,
                                                           domain_check=vendor_domains_refused(partner))
    except PortalError as exc:
        return _refused(request, partner, _problems(exc))
    messages.success(request, gettext(
        "The change file was applied: {added} added, {updated} changed, {removed} removed, {unchanged} unchanged."
    ).format(added=summary.added, updated=summary.updated, removed=summary.removed, unchanged=summary.unchanged))
    return _to_list(slug)


@login_required
def changes(request: HttpRequest, slug: str) -> HttpResponse:
    """Who added, changed or removed which person, and when (newest first, a page at a time)."""
    partner = _partner(request, slug)
    events = page_of(directory_selectors.directory_changes(partner=partner), request=request)
    return render(request, "onboarding/directory_changes.html", {"partner": partner, "events": events})
