"""The agreement document check: a PDF by its content, whatever its name or the browser's content type says."""

from typing import BinaryIO

from django.core.exceptions import ValidationError

from partners.errors import DOCUMENT_NOT_PDF

# Every PDF starts with this header (ISO 32000-1, 7.5.2). HTML, SVG and scripts named ".pdf" do not,
# and they are what would run on the portal's origin if a browser were ever handed one inline.
PDF_MAGIC = b"%PDF-"


def document_is_pdf(*, file: BinaryIO) -> bool:
    """Whether a file starts with the PDF header; the file is read from its start and left there."""
    file.seek(0)
    try:
        return file.read(len(PDF_MAGIC)) == PDF_MAGIC
    finally:
        file.seek(0)


def document_require_pdf(*, file: BinaryIO) -> None:
    """Refuse anything that is not a PDF by content (the name and the declared type are not looked at)."""
    if not document_is_pdf(file=file):
        raise ValidationError(DOCUMENT_NOT_PDF, code="not_pdf")
