"""Active Directory quirks: binary objectGUID, proxyAddresses prefixes, userAccountControl."""

import uuid

from directory_sync.errors import MalformedValue

# userAccountControl flag ACCOUNTDISABLE (0x2).
ACCOUNT_DISABLE = 0x2

# The attribute of each role (see directory_sync.mapping.ROLES) on an Active Directory.
ATTRIBUTES = {
    "id": "objectGUID",
    "name": "displayName",
    "mail": "mail",
    "proxy": "proxyAddresses",
    "aliases": "",
    "forwarding": "targetAddress",
    "disabled": "userAccountControl",
    "changed": "uSNChanged",
}
# objectCategory keeps computers out: they are objectClass=user too.
DEFAULT_FILTER = "(&(objectCategory=person)(objectClass=user))"


def decode_guid(value: bytes) -> str:
    """objectGUID is 16 raw bytes on the wire, little-endian in its first three fields (as AD shows it)."""
    if len(value) != 16:
        raise MalformedValue(f"objectGUID must be 16 bytes, got {len(value)}")
    return guid_text(value)


def guid_text(value: bytes) -> str:
    """The text form of 16 GUID bytes, as str(uuid.UUID(bytes_le=value)) gives it, at a fraction of
    the cost (a sync formats 100,000 of them)."""
    tail = value[8:].hex()
    return f"{value[3::-1].hex()}-{value[5:3:-1].hex()}-{value[7:5:-1].hex()}-{tail[:4]}-{tail[4:]}"


def guid_filter_value(external_id: str) -> str:
    """objectGUID is matched on its raw bytes, so a filter names each of them escaped (\\xx), in the
    wire's little-endian order, not as the text form reads."""
    return "".join(f"\\{byte:02x}" for byte in uuid.UUID(external_id).bytes_le)


def split_proxy_addresses(values: list[str]) -> tuple[list[str], list[str]]:
    """Split proxyAddresses into (primaries, aliases).

    The upper-case `SMTP:` prefix marks the primary address and lower-case `smtp:` an alias;
    the prefix's case is the whole signal, so it is compared exactly. Other address types
    (X500:, SIP:, X400:, EUM:, …) are not mail addresses and are ignored.
    """
    primaries, aliases = [], []
    for value in values:
        prefix, sep, address = value.partition(":")
        if not sep:
            continue
        if prefix == "SMTP":
            primaries.append(address)
        elif prefix == "smtp":
            aliases.append(address)
    return primaries, aliases


def strip_address_prefix(value: str) -> str:
    """targetAddress carries a type prefix (`SMTP:user@tenant.example`); mail needs none."""
    prefix, sep, address = value.partition(":")
    if sep and prefix.lower() == "smtp":
        return address
    if sep and "@" not in prefix:
        raise MalformedValue(f"not a mail address: {value!r}")
    return value


def is_disabled(user_account_control: str) -> bool:
    """userAccountControl is a decimal integer; bit 2 (ACCOUNTDISABLE) means disabled."""
    try:
        return bool(int(user_account_control) & ACCOUNT_DISABLE)
    except ValueError as exc:
        raise MalformedValue(f"userAccountControl is not an integer: {user_account_control!r}") from exc
