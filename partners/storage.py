"""Where signed agreements are kept: a private folder no URL maps to, under names nobody chose.

Agreements used to land in MEDIA_ROOT under the uploader's file name, and under DEBUG anyone could
fetch them by that name. Now they live under PRIVATE_MEDIA_ROOT and reach people only through
`partners:agreement_document`, which checks who is asking.
"""

import os
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone
from django.utils.deconstruct import deconstructible

NOT_SERVED = "Agreement documents have no public URL: link to partners:agreement_document instead."


@deconstructible(path="partners.storage.PrivateStorage")
class PrivateStorage(FileSystemStorage):
    """A file system storage rooted at PRIVATE_MEDIA_ROOT, readable only by the portal's own user."""

    def __init__(self):
        # Owner-only: the web server and the workers run as one user; nobody else on the host reads these.
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    # Read on every use rather than cached, so that the setting can change (tests) without a new storage.
    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name):
        """There is none: a link to a private file would be a way around the permission check."""
        raise NotImplementedError(NOT_SERVED)


def agreement_storage() -> PrivateStorage:
    """The storage of Agreement.document (a callable, so migrations name it instead of freezing a path)."""
    return PrivateStorage()


def agreement_document_name(instance, filename: str) -> str:
    """A random name for an uploaded agreement: the uploader's name never reaches the disk or a URL."""
    signed_at = getattr(instance, "signed_at", None) or timezone.now()
    return f"agreements/{signed_at:%Y}/{uuid.uuid4().hex}.pdf"


def agreement_version_document_name(instance, filename: str) -> str:
    """A random name for a published agreement version's document, beside the signed ones."""
    published_at = getattr(instance, "published_at", None) or timezone.now()
    return f"agreements/versions/{published_at:%Y}/{uuid.uuid4().hex}.pdf"
