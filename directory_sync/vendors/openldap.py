"""OpenLDAP quirks: textual entryUUID and optional lock attributes."""

import re
import uuid

from directory_sync.errors import MalformedValue

# The attribute of each role (see directory_sync.mapping.ROLES) on an OpenLDAP directory. It has
# no standard lock attribute: "disabled" is set by the operator when the directory has one.
ATTRIBUTES = {
    "id": "entryUUID",
    "name": "displayName",
    "mail": "mail",
    "proxy": "",
    "aliases": "mailAlternateAddress",
    "forwarding": "mailForwardingAddress",
    "disabled": "",
    "changed": "modifyTimestamp",
}
DEFAULT_FILTER = "(objectClass=inetOrgPerson)"

# Values of a "disabled" attribute that mean disabled (nsAccountLock: TRUE, a 1/0 flag, …);
# pwdAccountLockedTime means locked whatever its value, so any value of it counts.
TRUE_VALUES = {"true", "1", "yes", "on", "disabled", "locked"}

_CANONICAL_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def decode_entry_uuid(value: bytes) -> str:
    """entryUUID is the RFC 4530 text form; normalise its case.

    slapd sends the canonical lower-case form, which is taken as it is (a sync reads 100,000 of
    them); anything else goes through uuid.UUID, which gives that same form.
    """
    if _CANONICAL_UUID.fullmatch(value):
        return value.decode("ascii")
    try:
        return str(uuid.UUID(value.decode("ascii")))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedValue(f"entryUUID is not a UUID: {value!r}") from exc


def is_disabled(attribute: str, values: list[str]) -> bool:
    """Whether a configured lock attribute marks the person disabled."""
    if attribute.lower() == "pwdaccountlockedtime":
        return bool(values)
    return any(v.strip().lower() in TRUE_VALUES for v in values)
