"""The directory_sync app's domain errors, with the messages people see (tests reuse them)."""

from directory_sync.sources.ldap import DirectoryError, DirectoryUnavailable

ALREADY_RUNNING = "A sync of this directory is already running; wait for it to finish."
CSV_ACCOUNT = "This account has no directory server: upload a CSV file instead."
LDAP_ACCOUNT = "This account syncs from a directory server; CSV uploads are for accounts without one."
DISABLED_CONNECTION = "The directory connection is switched off."
BRAKE = (
    "Refused: this run would remove {removed} and disable {disabled} of {present} people ({share:.1f}%), "
    "more than the {limit}% the brake allows. Check the directory, then run again with --force "
    "(or “Sync now (force)” in the admin) if this is intended."
)


class SyncError(Exception):
    """A sync could not start or was refused; the message is for people."""


class SyncAlreadyRunning(SyncError):
    def __init__(self):
        super().__init__(ALREADY_RUNNING)


class CsvInvalid(SyncError):
    """A CSV file with bad rows: nothing of it was written."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = [f"row {row}: {reason}" for row, reason in problems[:50]]
        if len(problems) > 50:
            lines.append(f"… and {len(problems) - 50} more")
        super().__init__("The file was rejected, nothing was imported:\n" + "\n".join(lines))


__all__ = [
    "ALREADY_RUNNING",
    "BRAKE",
    "CSV_ACCOUNT",
    "DISABLED_CONNECTION",
    "LDAP_ACCOUNT",
    "CsvInvalid",
    "DirectoryError",
    "DirectoryUnavailable",
    "SyncAlreadyRunning",
    "SyncError",
]
