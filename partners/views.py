"""The partners app's pages: a partner's agreement (see it, download it, accept a new version) and the downloads
of signed agreements and published versions, each for those who may see them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_safe

from core.conflicts import conflicts_refused
from core.errors import ConcurrentChange
from core.paging import page_of
from partners.errors import AgreementRefused
from partners.forms import AgreementAcceptForm
from partners.selectors import (
    ROLE_ADMIN,
    agreement_document_for,
    agreement_history,
    agreement_is_signer,
    agreement_latest,
    agreement_partner_for,
    agreement_signers,
    agreement_version_document_for,
    agreement_version_offered,
)
from partners.services import agreement_accept

HISTORY_PAGE_SIZE = 20


def _pdf_download(file_field, filename: str) -> FileResponse:
    try:
        document = file_field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # An attachment with a fixed type, never sniffed: even a file that slipped past the PDF check is
    # saved to disk, not rendered on the portal's origin.
    response = FileResponse(document, as_attachment=True, filename=filename, content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def agreement_document(request: HttpRequest, agreement_id: int) -> FileResponse:
    """The agreement's PDF as a download; 404 for anyone who may not have it (signed in or not: no probing)."""
    agreement = agreement_document_for(user=request.user, agreement_id=agreement_id)
    if agreement is None:
        raise Http404
    return _pdf_download(agreement.document, agreement.document_filename)


@require_safe
def agreement_version_document(request: HttpRequest, version_id: int) -> FileResponse:
    """A published version's PDF, to read before accepting it; 404 for anyone who may not have it."""
    version = agreement_version_document_for(user=request.user, version_id=version_id)
    if version is None:
        raise Http404
    return _pdf_download(version.document, version.document_filename)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A partner's agreement: the one signed last and its download, the version offered for signature (with the
    accept form for authorised signers), and every agreement signed before. Its partner admins, its account
    manager and admins; 404 for everyone else."""
    partner = agreement_partner_for(user=request.user, slug=slug)
    if partner is None:
        raise Http404
    offered = agreement_version_offered(partner=partner)
    may_sign = offered is not None and agreement_is_signer(user=request.user, partner=partner)
    form = None
    if may_sign:
        initial = {"version_id": offered.pk, "document_sha256": offered.document_sha256,
                   "full_name": request.user.full_name}
        form = AgreementAcceptForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if form is None:  # nothing to sign (accepted meanwhile), or not a signer: say so on the page
            messages.error(request, gettext("There is no agreement version for you to accept."))
            return redirect("partners:agreement", slug=partner.slug)
        if form.is_valid():
            data = form.cleaned_data
            try:
                with conflicts_refused():
                    agreement = agreement_accept(
                        partner=partner, version_id=data["version_id"], document_sha256=data["document_sha256"],
                        name=data["full_name"], title=data["title"], confirmed=data["confirmed"],
                        actor=request.user, request=request)
            except (AgreementRefused, ConcurrentChange) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("You accepted partner agreement v{version} for {partner}.").format(
                    version=agreement.version, partner=partner))
                return redirect("partners:agreement", slug=partner.slug)
    latest = agreement_latest(partner=partner)
    history = page_of(agreement_history(partner=partner), request=request, param="history",
                      per_page=HISTORY_PAGE_SIZE)
    return render(request, "partners/agreement.html", {
        "partner": partner, "latest": latest, "latest_is_current": latest is not None and latest.is_current(),
        "offered": offered, "form": form, "history": history,
        "signers": [signer.get_full_name() for signer in agreement_signers(partner=partner)],
        "is_admin": request.user.role == ROLE_ADMIN,
    })
