"""Agreement document fixtures shared by the partners and security tests: a PDF and what poses as one."""

from django.core.files.base import ContentFile

from partners.models import Agreement

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!doctype html><title>agreement</title><script>alert(document.domain)</script>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><circle r="4"/></svg>\n'


def with_document(agreement: Agreement, content: bytes = PDF, name: str = "Signed agreement.pdf") -> Agreement:
    """Store `content` as the agreement's document, as an upload through the admin would."""
    agreement.document.save(name, ContentFile(content), save=True)
    return agreement
