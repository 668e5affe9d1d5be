"""The one base of every domain error of the portal.

Each app keeps its own errors, with the messages people see, in its `errors.py`; all of them
derive from `PortalError`, so a caller can tell a refusal the portal explains from a bug.
"""

from django.utils.translation import gettext_lazy as _

MAIL_ALREADY_SENT = _("This mail was sent already.")
CSV_NOT_UTF8 = _("the file is not UTF-8 text")
CSV_UNREADABLE = _("this row cannot be read as CSV ({reason}): the rest of the file was not read")
CONCURRENT_CHANGE = _("Someone changed this at the same time, so nothing was saved. Reload the page and try again.")


class PortalError(Exception):
    """A step the portal refused or could not take; str() is the message for the people concerned."""


class ConcurrentChange(PortalError):
    """A database conflict with a concurrent change (a unique row inserted first, a lock not granted)."""

    def __init__(self):
        super().__init__(CONCURRENT_CHANGE)

IDEMPOTENCY_KEY_REUSED = _("This Idempotency-Key was used for a different request: use a new key for a new request.")
IDEMPOTENCY_KEY_TOO_LONG = _("An Idempotency-Key is at most 200 characters.")
BODY_TOO_LARGE = _("The request is larger than the API takes ({limit} KiB).")
