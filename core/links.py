"""Absolute links for mail: the portal's public address (PORTAL_URL) and the path of a named view."""

from django.conf import settings
from django.urls import reverse


def absolute_url(viewname: str, *args) -> str:
    """The link to a view by its URL name (e.g. "onboarding:review_queue"), as people click it in mail."""
    return settings.PORTAL_URL + reverse(viewname, args=args)
