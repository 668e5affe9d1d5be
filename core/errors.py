"""The one base of every domain error of the portal.

Each app keeps its own errors, with the messages people see, in its `errors.py`; all of them
derive from `PortalError`, so a caller can tell a refusal the portal explains from a bug.
"""


MAIL_ALREADY_SENT = "This mail was sent already."


class PortalError(Exception):
    """A step the portal refused or could not take; str() is the message for the people concerned."""
