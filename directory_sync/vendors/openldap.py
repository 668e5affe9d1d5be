"""OpenLDAP quirks: textual entryUUID and optional lock attributes."""

import uuid

from directory_sync.vendors.active_directory import MalformedValue

# Values of a "disabled" attribute that mean disabled (nsAccountLock: TRUE, a 1/0 flag, …);
# pwdAccountLockedTime means locked whatever its value, so any value of it counts.
TRUE_VALUES = {"true", "1", "yes", "on", "disabled", "locked"}


def decode_entry_uuid(value: bytes) -> str:
    """entryUUID is the RFC 4530 text form; normalise its case."""
    try:
        return str(uuid.UUID(value.decode("ascii")))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedValue(f"entryUUID is not a UUID: {value!r}") from exc


def is_disabled(attribute: str, values: list[str]) -> bool:
    """Whether a configured lock attribute marks the person disabled."""
    if attribute.lower() == "pwdaccountlockedtime":
        return bool(values)
    return any(v.strip().lower() in TRUE_VALUES for v in values)
