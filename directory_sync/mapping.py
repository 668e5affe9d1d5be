"""From a directory entry to a person: attribute roles (each preset's from its vendor), mapping and the content hash."""

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from core.emails import InvalidEmail, normalize_email
from directory_sync.errors import UNKNOWN_ROLES, MalformedValue, SkipEntry, UnknownRole
from directory_sync.models import AddressKind, DirectoryUserStatus
from directory_sync.vendors import VENDORS, active_directory, vendor_for

# The roles an attribute can play. `--attribute ROLE=NAME` overrides one of them; an empty
# name switches a role off (e.g. `disabled=` for a directory without a lock attribute).
ROLES = {
    "id": "stable id of the person (matched across runs; never the DN)",
    "name": "display name",
    "mail": "primary address (Active Directory: only when no SMTP: proxy address exists)",
    "proxy": "Active Directory proxyAddresses (SMTP: primary, smtp: aliases)",
    "aliases": "alias addresses",
    "forwarding": "forwarding address(es)",
    "disabled": "disabled flag (Active Directory: userAccountControl bit 2)",
    "changed": "change marker for incremental runs (uSNChanged, whenChanged, modifyTimestamp, …)",
}

# The preset's attribute of each role lives with its vendor (directory_sync.vendors).
PRESETS: Mapping[str, Mapping[str, str]] = {preset: vendor.attributes for preset, vendor in VENDORS.items()}


# Part of every raw entry's digest (SourceKeys): raised when mapping the same entry gives another person, so
# that the next run maps everyone again instead of skipping them as unchanged. 2: display names cleaned.
MAPPING_VERSION = 2

# Cc: controls (CR, LF, NUL, tab, escape), Cf: format characters (bidi overrides, zero-width joiners, the
# byte-order mark), Cs: lone surrogates, Zl/Zp: Unicode's line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
_SPACES = re.compile(r" {2,}")


def clean_display_name(name: str) -> str:
    """A display name without control characters: line breaks and tabs become a space, the rest is dropped.

    Names reach pages and mail, where a line break forges lines and a bidi override makes a name read
    as another; a directory is not refused for it (people cannot fix their directory from the portal)."""
    if name.isprintable():
        return name
    kept = []
    for character in name:
        if character in _BREAKS:
            kept.append(" ")
        elif unicodedata.category(character) not in _CONTROL_CATEGORIES:
            kept.append(character)
    return _SPACES.sub(" ", "".join(kept)).strip()


class AttributeMap(dict[str, str]):
    """The attribute of each role for one connection, and the preset whose vendor reads them."""

    def __init__(self, roles: Mapping[str, str], *, preset: str):
        super().__init__(roles)
        self.preset = preset


def resolve_mapping(*, preset: str, overrides: dict[str, str]) -> AttributeMap:
    """The preset's attribute for each role, with the connection's overrides applied."""
    unknown = sorted(set(overrides) - set(ROLES))
    if unknown:
        raise UnknownRole(UNKNOWN_ROLES.format(unknown=", ".join(unknown), roles=", ".join(ROLES)))
    roles = {**vendor_for(preset).attributes, **{role: (name or "").strip() for role, name in overrides.items()}}
    return AttributeMap(roles, preset=preset)


def requested_attributes(mapping: dict[str, str]) -> list[str]:
    """Only the attributes the mapping needs (a smaller search is a faster one), plus cn for names."""
    return sorted({name for name in mapping.values() if name} | {"cn"})


class Address(NamedTuple):
    address: str  # normalised
    display: str
    kind: str


@dataclass(slots=True)
class Person:
    """A directory entry mapped to what the portal keeps of it."""

    external_id: str
    dn: str
    name: str
    status: str
    addresses: tuple[Address, ...]
    changed: str = ""
    ignored: list[str] = field(default_factory=list)
    # Filled by the engine: the digest of the mapped fields (CSV rows), or of the raw entry (LDAP,
    # where SourceKeys already made one: mapping the same entry again gives the same person).
    content_hash: str = ""
    source_hash: str = ""  # of the raw entry (see SourceKeys); empty for CSV rows

    @property
    def primary(self) -> Address:
        return next(a for a in self.addresses if a.kind == AddressKind.PRIMARY)


def content_hash(person: Person) -> str:
    """A digest over every field the portal stores: equal digests mean nothing to write."""
    parts = [person.dn, person.name, person.status]
    parts += sorted(f"{a.kind}\x1f{a.address}\x1f{a.display}" for a in person.addresses)
    return hashlib.blake2b("\x1e".join(parts).encode(), digest_size=16).hexdigest()


def _texts(attrs: dict[str, list[bytes]], name: str) -> list[str]:
    if not name:
        return []
    values = attrs.get(name)
    if not values:
        return []
    try:
        return [text for value in values if (text := value.decode("utf-8").strip())]
    except UnicodeDecodeError as exc:
        raise SkipEntry(f"{name} is not UTF-8 text") from exc


def _first(attrs: dict[str, list[bytes]], name: str) -> str:
    values = _texts(attrs, name)
    return values[0] if values else ""


# Looked up once: a sync builds 100,000 people, and an enum member is slow to reach through its class.
PRIMARY, ALIAS, FORWARDING = AddressKind.PRIMARY, AddressKind.ALIAS, AddressKind.FORWARDING
ACTIVE, DISABLED = DirectoryUserStatus.ACTIVE, DirectoryUserStatus.DISABLED


def build_person(
    *, external_id: str, dn: str, name: str, disabled: bool, primary: str, aliases: list[str],
    forwarding: list[str], changed: str = "",
) -> Person:
    """Normalise and de-duplicate the addresses of one person; raise SkipEntry when none is usable.

    The primary address comes first, then the others in address order (what content_hash and the
    tests see)."""
    ignored: list[str] = []
    if not primary:
        raise SkipEntry("no primary address")
    try:
        main = normalize_email(primary)
    except InvalidEmail as exc:
        raise SkipEntry(f"the primary address is malformed: {exc}") from exc
    # An address listed twice keeps its strongest kind: primary, then alias, then forwarding.
    others: dict[str, Address] = {}
    for kind, values in ((ALIAS, aliases), (FORWARDING, forwarding)):
        for value in values:
            try:
                address = normalize_email(value)
            except InvalidEmail:
                ignored.append(f"malformed {kind} address {value!r} ignored")
                continue
            if address != main and address not in others:
                others[address] = Address(address, value, kind)
    addresses = (Address(main, primary, PRIMARY), *(others[address] for address in sorted(others)))
    return Person(
        external_id, dn, clean_display_name(name) or primary, DISABLED if disabled else ACTIVE, addresses, changed,
        ignored,
    )


class EntryMapper:
    """Maps the raw LDAP entries of one connection, with the vendor's readers looked up once for all of them."""

    def __init__(self, mapping: AttributeMap):
        vendor = vendor_for(mapping.preset)
        self.mapping = mapping
        self.decode_id = vendor.id_decoder(mapping["id"])
        self.read_disabled = vendor.disabled_reader(mapping["disabled"]) if mapping["disabled"] else None

    def __call__(self, entry: tuple[str, dict[str, list[bytes]]]) -> Person:
        """Map one (DN, attributes) entry as a search returns it; raise SkipEntry (with the reason) for an entry
        that cannot be used."""
        dn, attrs = entry
        mapping = self.mapping
        try:
            raw_ids = attrs.get(mapping["id"])
            if not raw_ids:
                raise SkipEntry(f"no {mapping['id']} (stable id)")
            external_id = self.decode_id(raw_ids[0])
            primary, aliases = self._mail_addresses(attrs)
            forwarding = [active_directory.strip_address_prefix(v) for v in _texts(attrs, mapping["forwarding"])]
            disabled = self.read_disabled(_texts(attrs, mapping["disabled"])) if self.read_disabled else False
            name = _first(attrs, mapping["name"]) or _first(attrs, "cn")
            return build_person(
                external_id=external_id, dn=dn, name=name, disabled=disabled, primary=primary, aliases=aliases,
                forwarding=forwarding, changed=_first(attrs, mapping["changed"]),
            )
        except (MalformedValue, UnicodeDecodeError) as exc:
            raise SkipEntry(str(exc)) from exc

    def _mail_addresses(self, attrs: dict[str, list[bytes]]) -> tuple[str, list[str]]:
        """(primary, aliases): Active Directory's SMTP: proxy address if there is one, else the first mail."""
        mapping = self.mapping
        mails = _texts(attrs, mapping["mail"])
        aliases = _texts(attrs, mapping["aliases"])
        primaries: list[str] = []
        if mapping["proxy"]:
            primaries, proxy_aliases = active_directory.split_proxy_addresses(_texts(attrs, mapping["proxy"]))
            aliases += proxy_aliases
            if len(primaries) > 1:
                raise SkipEntry(f"{len(primaries)} primary (SMTP:) proxy addresses")
        if not primaries and mails:
            primaries, aliases = mails[:1], mails[1:] + aliases
        return (primaries[0] if primaries else ""), aliases


def map_entry(*, dn: str, attrs: dict[str, list[bytes]], mapping: Mapping[str, str], preset: str) -> Person:
    """Map one LDAP entry; raise SkipEntry (with the reason) for an entry that cannot be used."""
    return EntryMapper(AttributeMap(mapping, preset=preset))((dn, attrs))


class SourceKeys:
    """The stable id and a digest of a raw LDAP entry, without mapping it.

    A full run reads every entry; most have not changed since the last run. Their digest over
    the DN and the mapped attributes (not the change marker, which moves without content
    changing) equals the stored one, and then the entry is not mapped at all: mapping is most
    of a re-sync's work. The mapping itself is part of the digest, so a changed override
    re-maps everyone, and so is MAPPING_VERSION, so a changed way of mapping does too.
    """

    def __init__(self, mapping: AttributeMap):
        self.id_attribute = mapping["id"]
        # EntryMapper's reader: an entry's key must be the id its person is stored under.
        self.decode_id = vendor_for(mapping.preset).id_decoder(mapping["id"])
        self.changed = mapping["changed"]
        self.signature = repr((MAPPING_VERSION, sorted(mapping.items()))).encode()
        self._names: dict[str, bytes] = {}

    def __call__(self, entry) -> tuple[str, str, str] | None:
        """(stable id, digest, change marker), or None when the id is unusable (mapping says why)."""
        dn, attrs = entry
        ids = attrs.get(self.id_attribute)
        if not ids:
            return None
        try:
            external_id = self.decode_id(ids[0])
        except (MalformedValue, UnicodeDecodeError):
            return None
        changed_values = attrs.get(self.changed) if self.changed else None
        changed = changed_values[0].decode("ascii", "replace") if changed_values else ""
        # One update over one joined buffer: a sync digests 100,000 entries.
        parts = [self.signature, dn.encode()]
        for name in sorted(attrs):
            if name == self.changed:
                continue
            encoded = self._names.get(name)
            if encoded is None:
                encoded = self._names[name] = b"\x1e" + name.encode()
            parts.append(encoded)
            parts.extend(attrs[name])
        digest = hashlib.blake2b(b"\x1f".join(parts), digest_size=16)
        return external_id, digest.hexdigest(), changed
