"""The partners app's one page: downloading a signed agreement, for those who may see it."""

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from partners.selectors import agreement_document_for


@require_safe
def agreement_document(request: HttpRequest, agreement_id: int) -> FileResponse:
    """The agreement's PDF as a download; 404 for anyone who may not have it (signed in or not: no probing)."""
    agreement = agreement_document_for(user=request.user, agreement_id=agreement_id)
    if agreement is None:
        raise Http404
    try:
        document = agreement.document.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # An attachment with a fixed type, never sniffed: even a file that slipped past the PDF check is
    # saved to disk, not rendered on the portal's origin.
    response = FileResponse(
        document, as_attachment=True, filename=agreement.document_filename, content_type="application/pdf"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
