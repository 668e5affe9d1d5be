"""The directory_sync app's domain errors, with the messages people see (tests reuse them).

Every error here derives from core's PortalError. Those a caller may also catch as a ValueError
(a bad attribute override, a value that cannot be what its attribute says) keep ValueError as a
second base.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import PortalError

ALREADY_RUNNING = _("A sync of this directory is already running; wait for it to finish.")
ABANDONED = _("Abandoned: the run stopped giving signs of life.")
RUN_LOST = _(
    "This run stopped: it went without a heartbeat for so long that it was taken as abandoned, "
    "and another run may hold the directory's lock now."
)
CSV_ACCOUNT = _("This account has no directory server: upload a CSV file instead.")
LDAP_ACCOUNT = _("This account syncs from a directory server; CSV uploads are for accounts without one.")
DISABLED_CONNECTION = _("The directory connection is switched off.")
SYNC_QUEUED_ALREADY = _("A sync of this directory is queued already; it starts within moments.")
BRAKE = _(
    "Refused: this run would remove {removed} and disable {disabled} of {present} people ({share:.1f}%), "
    "more than the {limit}% the brake allows. Check the directory, then run again with --force "
    "(or “Sync now (force)” in the admin) if this is intended."
)
UNKNOWN_ROLES = _("Unknown attribute role(s): {unknown}. Roles: {roles}.")

# CSV uploads: what is refused before a file is read, and the row problems of reading it.
CSV_TOO_LARGE = _(
    "The file was rejected, nothing was imported: it is {size}, and a directory file may be at most {limit}."
)
CSV_TOO_MANY_ROWS = _("the file has more than {limit} rows: the rest of it was not read")
CSV_ID_TOO_LONG = _("the id is longer than {limit} characters")

# What the directory said, in the portal's words ({detail} is python-ldap's own description).
DIRECTORY_UNAVAILABLE = _("The directory is unreachable: {detail}")
INVALID_CREDENTIALS = _("The directory refused the bind DN and password (invalid credentials).")
NO_SUCH_BASE_DN = _("The base DN does not exist on the directory: {detail}")
INVALID_FILTER = _("The user filter is not a valid LDAP filter.")
TLS_FAILED = _(
    "TLS with the directory failed ({reason}). Its certificate must be signed by the configured CA "
    "certificate (or, with none configured, by a CA this server trusts) and name the host in the URI."
)
TLS_UNVERIFIED = _("its certificate could not be verified")


class DirectoryError(PortalError):
    """The directory refused or failed the operation; retrying will not help (bad credentials, bad base DN)."""


class DirectoryUnavailable(DirectoryError):
    """The directory could not be reached or timed out; a later retry may succeed."""


class SyncError(PortalError):
    """A sync could not start or was refused; the message is for people."""


class SyncAlreadyRunning(SyncError):
    def __init__(self):
        super().__init__(ALREADY_RUNNING)


class SyncRunLost(SyncError):
    """A live run found its row abandoned (a stall longer than the stale time): it must not go on."""

    def __init__(self):
        super().__init__(RUN_LOST)


class CsvInvalid(SyncError):
    """A CSV file with bad rows: nothing of it was written."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = [gettext("row {row}: {reason}").format(row=row, reason=reason) for row, reason in problems[:50]]
        if len(problems) > 50:
            lines.append(gettext("… and {count} more").format(count=len(problems) - 50))
        super().__init__(gettext("The file was rejected, nothing was imported:") + "\n" + "\n".join(lines))


class CsvTooLarge(SyncError):
    """A CSV file over the size limit: refused before it is read, nothing written."""


class UnknownRole(PortalError, ValueError):
    """An attribute override names a role that does not exist."""


class SkipEntry(PortalError):
    """This entry cannot be synced; the message says why (recorded on the run, never fatal to it)."""


class MalformedValue(PortalError, ValueError):
    """A directory value that cannot be what the attribute says it is."""


class RefusedByBrake(PortalError):
    """Raised inside an all-or-nothing apply to roll it back when the brake refuses."""


class SyncNotQueued(PortalError):
    """A sync cannot be queued now (a CSV account, a connection switched off, one running or queued already)."""
