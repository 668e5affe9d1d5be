"""Deterministic directory data for the throwaway slapd (tests/ldap_server.py): LDIF generators and single entries.

Two shapes of "people" are generated, one per directory preset the portal syncs from:

* Active Directory (`write_ad_people`, `ad_person_attrs`): inetOrgPerson + adLiteObject with `proxyAddresses`
  (one `SMTP:` primary, `smtp:` aliases, `X500:` and sometimes `SIP:`), a raw 16-byte `objectGUID`,
  `userAccountControl` (about 5 % disabled), `targetAddress` for about 30 %, USNs and `when*` times.
* OpenLDAP (`write_openldap_people`, `openldap_person_attrs`): inetOrgPerson + portalMailRecipient with `mail`,
  `mailAlternateAddress` aliases and `mailForwardingAddress` for some.

Every person is a pure function of (index, seed, domain, suffix): each one draws from a `random.Random` re-seeded
with (seed, index). That costs a few microseconds per person, but it lets `ad_person_attrs(7)` return exactly the
person the LDIF writer wrote as number 7, and lets a benchmark write 100,000 people in one streamed pass without
keeping any of them in memory. Every person has the password `DEFAULT_PASSWORD` (one `{SSHA}` hash reused: hashing
100,000 times would dominate the run, and binds still verify it).

The LDIF writers also put operational attributes on each person (`entryUUID`, `createTimestamp`,
`modifyTimestamp`, `entryCSN`): `slapadd` keeps them, so people look as if they were created and last changed in
2024 instead of at load time. Incremental syncs (`modifyTimestamp>=…`) then see only what a test changes online.
`entryUUID` equals the person's GUID (AD) or stable UUID (OpenLDAP), so tests can predict it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TextIO, TypeVar

DEFAULT_SUFFIX = "dc=example,dc=test"
DEFAULT_DOMAIN = "example.test"
DEFAULT_PASSWORD = "Passw0rd!"
SERVICE_CN = "portal-sync"
SERVICE_PASSWORD = "sync-secret"
# Exchange Online routing domain that `targetAddress` points at for "forwarded" (cloud) mailboxes.
TARGET_DOMAIN = "tenant.mail.example.net"
FORWARD_DOMAIN = "forward.example.org"

ACCOUNTDISABLE = 0x2  # userAccountControl bit; 512 = NORMAL_ACCOUNT, 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE
DISABLED_SHARE = 0.05
AD_FORWARDING_SHARE = 0.30
OPENLDAP_FORWARDING_SHARE = 0.20

# Namespace for the uuid5-derived GUIDs / entryUUIDs (a fixed random UUID, so they cannot collide with real ones).
GUID_NAMESPACE = uuid.UUID("6f1c3b52-8a4e-4d0b-9d62-3f5b2a7c9e10")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# Names as (written, ASCII form used in addresses and account names). A few non-ASCII ones make sure UTF-8
# values (base64 in LDIF) reach whatever reads the directory.
_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Ada", "Ada"), ("Alan", "Alan"), ("Anna", "Anna"), ("Ben", "Ben"), ("Carla", "Carla"), ("Chen", "Chen"),
    ("David", "David"), ("Elena", "Elena"), ("Emma", "Emma"), ("Farid", "Farid"), ("Grace", "Grace"),
    ("Hannah", "Hannah"), ("Ivan", "Ivan"), ("Jana", "Jana"), ("John", "John"), ("Jürgen", "Juergen"),
    ("Kenji", "Kenji"), ("Laura", "Laura"), ("Linus", "Linus"), ("Maria", "Maria"), ("Mehmet", "Mehmet"),
    ("Nadia", "Nadia"), ("Noah", "Noah"), ("Olga", "Olga"), ("Paul", "Paul"), ("Priya", "Priya"),
    ("Rosa", "Rosa"), ("Sam", "Sam"), ("Sofia", "Sofia"), ("Tom", "Tom"), ("Zoë", "Zoe"),
)
_LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Adams", "Adams"), ("Berg", "Berg"), ("Costa", "Costa"), ("Dubois", "Dubois"), ("Evans", "Evans"),
    ("Fischer", "Fischer"), ("García", "Garcia"), ("Hopper", "Hopper"), ("Ito", "Ito"), ("Jensen", "Jensen"),
    ("Kowalski", "Kowalski"), ("Lovelace", "Lovelace"), ("Meyer", "Meyer"), ("Nguyen", "Nguyen"),
    ("Okafor", "Okafor"), ("Patel", "Patel"), ("Quinn", "Quinn"), ("Rossi", "Rossi"), ("Schmidt", "Schmidt"),
    ("Søren", "Soeren"), ("Tanaka", "Tanaka"), ("Turing", "Turing"), ("Ueda", "Ueda"), ("Varga", "Varga"),
    ("Weber", "Weber"), ("Xu", "Xu"), ("Yilmaz", "Yilmaz"), ("Zimmermann", "Zimmermann"),
)

Attrs = dict[str, list[bytes | str]]
_T = TypeVar("_T")


@dataclass(frozen=True)
class PeopleSummary:
    """What a writer produced, for tests to check searches against."""

    count: int
    disabled: int  # userAccountControl has ACCOUNTDISABLE (always 0 for OpenLDAP people)
    forwarding: int  # has targetAddress (AD) / mailForwardingAddress (OpenLDAP)
    addresses: int  # SMTP addresses: primary + aliases (what the portal stores per person)
    first: int  # index of the first person written
    last: int  # index of the last person written


def ssha(password: str, salt: bytes | None = None) -> str:
    """`{SSHA}` hash as slapd stores it: base64(sha1(password + salt) + salt); random 8-byte salt by default."""
    salt = os.urandom(8) if salt is None else salt
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - SSHA is what slapd verifies
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


# One hash for every generated person: 100,000 hashes would cost more than the rest of the LDIF. The fixed salt
# keeps the LDIF byte-for-byte deterministic.
_PEOPLE_PASSWORD_HASH = ssha(DEFAULT_PASSWORD, salt=b"portal!!")


def people_dn(suffix: str = DEFAULT_SUFFIX) -> str:
    return f"ou=people,{suffix}"


def service_dn(suffix: str = DEFAULT_SUFFIX) -> str:
    return f"cn={SERVICE_CN},ou=service,{suffix}"


# --- LDIF ------------------------------------------------------------------------------------------------------


_UNSAFE_FIRST = frozenset((" ", ":", "<"))
_UNSAFE_ANY = frozenset(("\n", "\r", "\0"))


def _ldif_value(attr: str, value: bytes | str) -> str:
    """One `attr: value` line; base64 (`::`) where RFC 2849 requires it (binary, non-ASCII, leading specials)."""
    if isinstance(value, str):
        if value.isascii() and value[:1] not in _UNSAFE_FIRST and value[-1:] != " " and _UNSAFE_ANY.isdisjoint(value):
            return f"{attr}: {value}"
        value = value.encode()
    return f"{attr}:: {base64.b64encode(value).decode()}"


def _write_entry(fh: TextIO, dn: str, attrs: Attrs) -> None:
    """Generic entry writer (base entries). The people writers build their LDIF text directly, for speed."""
    lines = [_ldif_value("dn", dn)]
    lines.extend(_ldif_value(attr, value) for attr, values in attrs.items() for value in values)
    fh.write("\n".join(lines) + "\n\n")


def base_entries(suffix: str = DEFAULT_SUFFIX) -> list[tuple[str, Attrs]]:
    """The suffix, ou=people/groups/service and the service account (password SERVICE_PASSWORD, {SSHA})."""
    rdn_attr, _, rdn_value = suffix.split(",", 1)[0].partition("=")
    rdn_attr = rdn_attr.strip().lower()
    if rdn_attr == "dc":
        top: Attrs = {"objectClass": ["dcObject", "organization"], "dc": [rdn_value], "o": [rdn_value]}
    elif rdn_attr == "o":
        top = {"objectClass": ["organization"], "o": [rdn_value]}
    else:
        raise ValueError(f"suffix must start with dc= or o=, not {suffix!r}")
    entries: list[tuple[str, Attrs]] = [(suffix, top)]
    for ou in ("people", "groups", "service"):
        entries.append((f"ou={ou},{suffix}", {"objectClass": ["organizationalUnit"], "ou": [ou]}))
    entries.append((service_dn(suffix), {
        "objectClass": ["person", "simpleSecurityObject"],
        "cn": [SERVICE_CN],
        "sn": ["service"],
        "description": ["account the portal binds as to read people"],
        "userPassword": [ssha(SERVICE_PASSWORD)],
    }))
    return entries


def write_base(fh: TextIO, suffix: str = DEFAULT_SUFFIX) -> None:
    """Write the base entries (see `base_entries`); a slapadd seed must start with them."""
    for dn, attrs in base_entries(suffix):
        _write_entry(fh, dn, attrs)


# --- people ----------------------------------------------------------------------------------------------------


class _Person(NamedTuple):
    """The random draws for one person; both presets derive their attributes from it."""

    index: int
    first: str
    last: str
    first_ascii: str
    last_ascii: str
    alias_count: int  # 1 or 2
    disabled: bool
    forwarding: bool
    sip: bool
    created: str  # YYYYmmddHHMMSS, UTC
    changed: str  # == created unless the person was "modified" after creation
    guid: uuid.UUID


@functools.lru_cache(maxsize=512)
def _day_stamp(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).strftime("%Y%m%d")


def _stamp(seconds: int) -> str:
    """`YYYYmmddHHMMSS` of _EPOCH + seconds (UTC); strftime per person was a sixth of the generation time."""
    days, sod = divmod(seconds, 86400)
    return f"{_day_stamp(days)}{sod // 3600:02d}{sod // 60 % 60:02d}{sod % 60:02d}"


def _pick(rng: random.Random, options: tuple[_T, ...]) -> _T:
    # rng.choice() is a Python-level call chain; this is the same uniform pick at a fraction of the cost.
    return options[int(rng.random() * len(options))]


def _draw(rng: random.Random, i: int, *, seed: int, domain: str, kind: str, forwarding_share: float) -> _Person:
    # Re-seeding per person (rather than one stream) makes person i independent of how many came before.
    # The shift keeps (seed, i) pairs apart for any index below 2**40.
    rng.seed((seed << 40) + i)
    first, first_ascii = _pick(rng, _FIRST_NAMES)
    last, last_ascii = _pick(rng, _LAST_NAMES)
    alias_count = 2 if rng.random() < 0.5 else 1
    disabled = rng.random() < DISABLED_SHARE
    forwarding = rng.random() < forwarding_share
    sip = rng.random() < 0.25
    created = _stamp(i * 60)  # one person a minute from 2024-01-01
    # 40 % were changed some time in the 30 days after creation
    changed = _stamp(i * 60 + int(rng.random() * 30 * 86400) + 1) if rng.random() < 0.4 else created
    guid = uuid.uuid5(GUID_NAMESPACE, f"{kind}:{domain}:{seed}:{i}")
    return _Person(i, first, last, first_ascii, last_ascii, alias_count, disabled, forwarding, sip, created,
                   changed, guid)


class _AdNames(NamedTuple):
    cn: str
    local: str  # e.g. Ada.Lovelace0001: AD keeps the case users typed
    primary: str
    sam: str
    aliases: list[str]  # smtp: aliases, without the prefix
    sip: str | None
    x500: str
    target: str | None


def _ad_names(p: _Person, domain: str) -> _AdNames:
    """The strings both AD serializations (attribute dict, LDIF text) are built from."""
    i = p.index
    local = f"{p.first_ascii}.{p.last_ascii}{i:04d}"
    sam = f"{p.first_ascii[0]}{p.last_ascii[:12]}{i:04d}".lower()  # <= 20 characters, like AD's limit
    lower = local.lower()
    aliases = [f"{sam}@{domain}", f"{lower}@mail.{domain}"] if p.alias_count == 2 else [f"{sam}@{domain}"]
    return _AdNames(
        cn=f"{p.first} {p.last} {i:04d}",
        local=local,
        primary=f"{local}@{domain}",
        sam=sam,
        aliases=aliases,
        sip=f"{lower}@{domain}" if p.sip else None,
        x500=f"/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={p.guid.hex}",
        target=f"{local}@{TARGET_DOMAIN}" if p.forwarding else None,
    )


def _ad_attrs(p: _Person, suffix: str, domain: str) -> tuple[str, Attrs]:
    n = _ad_names(p, domain)
    usn_created = 10_000 + 2 * p.index  # strictly increasing with the index, as AD hands them out
    proxy = [f"SMTP:{n.primary}", *(f"smtp:{a}" for a in n.aliases), f"X500:{n.x500}"]
    if n.sip:
        proxy.append(f"SIP:{n.sip}")
    attrs: Attrs = {
        "objectClass": ["inetOrgPerson", "adLiteObject"],
        "cn": [n.cn],
        "sn": [p.last],
        "givenName": [p.first],
        "displayName": [f"{p.first} {p.last}"],
        "mail": [n.primary],
        "sAMAccountName": [n.sam],
        "userPrincipalName": [f"{n.sam}@{domain}"],
        "mailNickname": [n.local],
        "proxyAddresses": proxy,
        "userAccountControl": ["514" if p.disabled else "512"],
        "objectGUID": [p.guid.bytes_le],  # AD's byte order; uuid.UUID(bytes_le=...) reads it back
        "uSNCreated": [str(usn_created)],
        "uSNChanged": [str(usn_created + (p.changed != p.created))],
        "whenCreated": [p.created + ".0Z"],
        "whenChanged": [p.changed + ".0Z"],
        "userPassword": [_PEOPLE_PASSWORD_HASH],
    }
    if n.target:
        attrs["targetAddress"] = [f"SMTP:{n.target}"]
    return f"cn={n.cn},{people_dn(suffix)}", attrs


def _ad_ldif(p: _Person, people: str, domain: str) -> str:
    """The LDIF text of `_ad_attrs` plus operational attributes, built in one go: the generic `_write_entry`
    costs twice as much, which matters at 100,000 people. tests/test_ldap_harness.py checks both agree."""
    n = _ad_names(p, domain)
    usn_created = 10_000 + 2 * p.index
    display = f"{p.first} {p.last}"
    lines = [
        f"dn: cn={n.cn},{people}\nobjectClass: inetOrgPerson\nobjectClass: adLiteObject\ncn: {n.cn}\n"
        f"sn: {p.last}\ngivenName: {p.first}\ndisplayName: {display}"
        if p.first.isascii() and p.last.isascii() and people.isascii() else
        "\n".join((_ldif_value("dn", f"cn={n.cn},{people}"), "objectClass: inetOrgPerson\nobjectClass: adLiteObject",
                   _ldif_value("cn", n.cn), _ldif_value("sn", p.last), _ldif_value("givenName", p.first),
                   _ldif_value("displayName", display))),
        f"mail: {n.primary}\nsAMAccountName: {n.sam}\nuserPrincipalName: {n.sam}@{domain}\n"
        f"mailNickname: {n.local}\nproxyAddresses: SMTP:{n.primary}",
        *(f"proxyAddresses: smtp:{a}" for a in n.aliases),
        f"proxyAddresses: X500:{n.x500}",
    ]
    if n.sip:
        lines.append(f"proxyAddresses: SIP:{n.sip}")
    lines.append(
        f"userAccountControl: {514 if p.disabled else 512}\n"
        f"objectGUID:: {base64.b64encode(p.guid.bytes_le).decode()}\n"
        f"uSNCreated: {usn_created}\nuSNChanged: {usn_created + (p.changed != p.created)}\n"
        f"whenCreated: {p.created}.0Z\nwhenChanged: {p.changed}.0Z\nuserPassword: {_PEOPLE_PASSWORD_HASH}"
    )
    if n.target:
        lines.append(f"targetAddress: SMTP:{n.target}")
    lines.append(_operational_ldif(p))
    return "\n".join(lines)


def _operational_ldif(p: _Person) -> str:
    """Operational attributes slapadd keeps (see module docstring): a past creation/change and a stable UUID."""
    # CSN format: time.usec#change-count#server-id#mod-count; the count keeps equal-second CSNs distinct.
    return (f"entryUUID: {p.guid}\ncreateTimestamp: {p.created}Z\nmodifyTimestamp: {p.changed}Z\n"
            f"entryCSN: {p.changed}.000000Z#{p.index % 0x1000000:06x}#000#000000\n\n")


class _OpenldapNames(NamedTuple):
    uid: str
    mail: str
    aliases: list[str]
    forward: str | None


def _openldap_names(p: _Person, domain: str) -> _OpenldapNames:
    i = p.index
    uid = f"{p.first_ascii[0]}{p.last_ascii}{i:04d}".lower()
    local = f"{p.first_ascii}.{p.last_ascii}{i:04d}".lower()
    aliases = [f"{uid}@{domain}", f"{local}@mail.{domain}"] if p.alias_count == 2 else [f"{uid}@{domain}"]
    return _OpenldapNames(uid, f"{local}@{domain}", aliases, f"{local}@{FORWARD_DOMAIN}" if p.forwarding else None)


def _openldap_attrs(p: _Person, suffix: str, domain: str) -> tuple[str, Attrs]:
    n = _openldap_names(p, domain)
    display = f"{p.first} {p.last}"
    attrs: Attrs = {
        "objectClass": ["inetOrgPerson", "portalMailRecipient"],
        "uid": [n.uid],
        "cn": [display],
        "sn": [p.last],
        "givenName": [p.first],
        "displayName": [display],
        "mail": [n.mail],
        "mailAlternateAddress": list(n.aliases),
        "userPassword": [_PEOPLE_PASSWORD_HASH],
    }
    if n.forward:
        attrs["mailForwardingAddress"] = [n.forward]
    return f"uid={n.uid},{people_dn(suffix)}", attrs


def _openldap_ldif(p: _Person, people: str, domain: str) -> str:
    """LDIF text of `_openldap_attrs` plus operational attributes (see `_ad_ldif` for why it is separate)."""
    n = _openldap_names(p, domain)
    display = f"{p.first} {p.last}"
    lines = [
        _ldif_value("dn", f"uid={n.uid},{people}"),
        f"objectClass: inetOrgPerson\nobjectClass: portalMailRecipient\nuid: {n.uid}",
        _ldif_value("cn", display), _ldif_value("sn", p.last), _ldif_value("givenName", p.first),
        _ldif_value("displayName", display),
        f"mail: {n.mail}",
        *(f"mailAlternateAddress: {a}" for a in n.aliases),
        f"userPassword: {_PEOPLE_PASSWORD_HASH}",
    ]
    if n.forward:
        lines.append(f"mailForwardingAddress: {n.forward}")
    lines.append(_operational_ldif(p))
    return "\n".join(lines)


def ad_person_attrs(i: int, *, suffix: str = DEFAULT_SUFFIX, domain: str = DEFAULT_DOMAIN,
                    seed: int = 1) -> tuple[str, Attrs]:
    """(dn, attributes) of AD-shaped person `i`, exactly as `write_ad_people` writes it (minus operational
    attributes, which an online add may not set). Pass an index beyond the seeded ones to add a new person."""
    p = _draw(random.Random(), i, seed=seed, domain=domain, kind="ad", forwarding_share=AD_FORWARDING_SHARE)
    return _ad_attrs(p, suffix, domain)


def openldap_person_attrs(i: int, *, suffix: str = DEFAULT_SUFFIX, domain: str = DEFAULT_DOMAIN,
                          seed: int = 1) -> tuple[str, Attrs]:
    """(dn, attributes) of OpenLDAP-shaped person `i`, as `write_openldap_people` writes it (minus operational
    attributes)."""
    p = _draw(random.Random(), i, seed=seed, domain=domain, kind="openldap",
              forwarding_share=OPENLDAP_FORWARDING_SHARE)
    return _openldap_attrs(p, suffix, domain)


def write_ad_people(fh: TextIO, *, n: int, suffix: str = DEFAULT_SUFFIX, domain: str = DEFAULT_DOMAIN, seed: int = 1,
                    start: int = 1) -> PeopleSummary:
    """Stream `n` AD-shaped people (indexes start … start+n-1) as LDIF to `fh`; base entries not included."""
    rng = random.Random(seed)
    people = people_dn(suffix)
    disabled = forwarding = addresses = 0
    for i in range(start, start + n):
        p = _draw(rng, i, seed=seed, domain=domain, kind="ad", forwarding_share=AD_FORWARDING_SHARE)
        fh.write(_ad_ldif(p, people, domain))
        disabled += p.disabled
        forwarding += p.forwarding
        addresses += 1 + p.alias_count
    return PeopleSummary(n, disabled, forwarding, addresses, start, start + n - 1)


def write_openldap_people(fh: TextIO, *, n: int, suffix: str = DEFAULT_SUFFIX, domain: str = DEFAULT_DOMAIN,
                          seed: int = 1, start: int = 1) -> PeopleSummary:
    """Stream `n` OpenLDAP-shaped people as LDIF to `fh`; base entries not included."""
    rng = random.Random(seed)
    people = people_dn(suffix)
    forwarding = addresses = 0
    for i in range(start, start + n):
        p = _draw(rng, i, seed=seed, domain=domain, kind="openldap", forwarding_share=OPENLDAP_FORWARDING_SHARE)
        fh.write(_openldap_ldif(p, people, domain))
        forwarding += p.forwarding
        addresses += 1 + p.alias_count
    return PeopleSummary(n, 0, forwarding, addresses, start, start + n - 1)
