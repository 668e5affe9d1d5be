"""The throwaway slapd harness (tests/ldap_server.py) and the data generators (tests/ldap_data.py) themselves.

Sync tests and the benchmark rely on these promises: paged searches as the service account see everyone, AD
matching rules behave like AD's, seeded operational timestamps are in the past, and stop/restart/pause simulate
an unavailable directory. No Django database is involved.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap
import pytest
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars
from ldif import LDIFRecordList

from tests.ldap_data import (
    DEFAULT_PASSWORD,
    PeopleSummary,
    ad_person_attrs,
    openldap_person_attrs,
    ssha,
    write_ad_people,
    write_base,
    write_openldap_people,
)
from tests.ldap_server import Slapd, SlapdError

pytestmark = pytest.mark.integration

AD_PEOPLE = 1000
OPENLDAP_PEOPLE = 200
SCRATCH_PEOPLE = 20


def _seeded(workdir: Path, writer, n: int) -> tuple[Slapd, PeopleSummary]:
    seed = workdir / "seed.ldif"
    with open(seed, "w", encoding="utf-8") as fh:
        write_base(fh)
        summary = writer(fh, n=n)
    return Slapd(workdir / "slapd").start(seed), summary


@pytest.fixture(scope="module")
def ad(tmp_path_factory) -> Iterator[tuple[Slapd, PeopleSummary]]:
    """1,000 AD-shaped people; read-only for the tests that use it."""
    slapd, summary = _seeded(tmp_path_factory.mktemp("slapd-ad"), write_ad_people, AD_PEOPLE)
    with slapd:
        yield slapd, summary


@pytest.fixture(scope="module")
def openldap(tmp_path_factory) -> Iterator[tuple[Slapd, PeopleSummary]]:
    """200 OpenLDAP-shaped people, streamed straight into slapadd (the other way to seed)."""
    with Slapd(tmp_path_factory.mktemp("slapd-openldap")) as slapd:
        summary = slapd.start_streaming(lambda fh: write_openldap_people(fh, n=OPENLDAP_PEOPLE))
        yield slapd, summary


@pytest.fixture
def scratch(tmp_path) -> Iterator[Slapd]:
    """A small server per test, for tests that change data or stop the server."""
    slapd, _ = _seeded(tmp_path, write_ad_people, SCRATCH_PEOPLE)
    with slapd:
        yield slapd


def paged_search(conn, base: str, flt: str, attrs: list[str] | None, page_size: int = 200):
    """All entries of a subtree search in pages (RFC 2696), and the number of pages it took."""
    control = SimplePagedResultsControl(criticality=True, size=page_size, cookie=b"")
    entries, pages = [], 0
    while True:
        msgid = conn.search_ext(base, ldap.SCOPE_SUBTREE, flt, attrs, serverctrls=[control])
        _type, data, _msgid, controls = conn.result3(msgid)
        pages += 1
        entries.extend((dn, entry) for dn, entry in data if dn is not None)
        cookie = next((c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType), b"")
        if not cookie:
            return entries, pages
        control.cookie = cookie


def search(conn, base: str, flt: str, attrs: list[str] | None = None) -> dict[str, dict[str, list[bytes]]]:
    return dict(conn.search_s(base, ldap.SCOPE_SUBTREE, flt, attrs))


def _bytes(attrs: dict) -> dict[str, list[bytes]]:
    return {k: [v.encode() if isinstance(v, str) else v for v in vs] for k, vs in attrs.items()}


# --- AD-shaped data ---------------------------------------------------------------------------------------------


def test_paged_search_as_service_account_returns_everyone(ad):
    slapd, summary = ad
    conn = slapd.service_connection()
    entries, pages = paged_search(conn, slapd.people_dn, "(objectClass=inetOrgPerson)",
                                  ["mail", "proxyAddresses", "userAccountControl", "objectGUID"])
    assert len(entries) == summary.count == AD_PEOPLE
    assert pages == AD_PEOPLE // 200  # slapd ends the cookie chain with the last full page
    assert len({dn for dn, _ in entries}) == AD_PEOPLE
    proxies = [v for _, e in entries for v in e["proxyAddresses"]]
    assert sum(v.startswith(b"SMTP:") for v in proxies) == AD_PEOPLE  # exactly one primary each
    assert sum(v[:5].lower() == b"smtp:" for v in proxies) == summary.addresses


def test_only_the_service_account_is_exempt_from_the_size_limit(ad):
    slapd, _ = ad
    everything = (slapd.people_dn, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"])  # ou=people + 1,000 people
    assert len(slapd.service_connection().search_s(*everything)) == AD_PEOPLE + 1
    user, _ = ad_person_attrs(1)
    with pytest.raises(ldap.SIZELIMIT_EXCEEDED):  # AD-like 1,000 per (unpaged) search for everyone else
        slapd.connection(user, DEFAULT_PASSWORD).search_s(*everything)


def test_proxy_addresses_match_case_insensitively_like_ad(ad):
    slapd, _ = ad
    dn, attrs = ad_person_attrs(7)
    primary = next(v for v in attrs["proxyAddresses"] if v.startswith("SMTP:"))
    alias = next(v for v in attrs["proxyAddresses"] if v.startswith("smtp:"))
    conn = slapd.service_connection()
    for value in (alias, alias.upper(), "smtp:" + primary[5:].lower()):
        assert list(search(conn, slapd.people_dn, f"(proxyAddresses={escape_filter_chars(value)})")) == [dn]
    stored = search(conn, dn, "(objectClass=*)", ["proxyAddresses"])[dn]["proxyAddresses"]
    assert primary.encode() in stored  # values keep their case: the client tells primary from alias


def test_object_guid_is_16_raw_bytes_and_searchable(ad):
    slapd, _ = ad
    dn, attrs = ad_person_attrs(42)
    conn = slapd.service_connection()
    entry = search(conn, dn, "(objectClass=*)", ["objectGUID", "entryUUID", "modifyTimestamp", "whenChanged"])[dn]
    guid = entry["objectGUID"][0]
    assert isinstance(guid, bytes) and len(guid) == 16
    assert guid == attrs["objectGUID"][0]
    # The seed sets entryUUID to the same UUID, and the timestamps to the person's (past) history.
    assert entry["entryUUID"][0].decode() == str(uuid.UUID(bytes_le=guid))
    assert entry["modifyTimestamp"][0] == entry["whenChanged"][0].replace(b".0Z", b"Z")
    escaped = "".join(f"\\{byte:02x}" for byte in guid)
    assert list(search(conn, slapd.people_dn, f"(objectGUID={escaped})")) == [dn]


def test_disabled_people_match_ads_bitwise_rule(ad):
    slapd, summary = ad
    conn = slapd.service_connection()
    disabled = search(conn, slapd.people_dn, "(userAccountControl:1.2.840.113556.1.4.803:=2)",
                      ["userAccountControl"])
    assert len(disabled) == summary.disabled > 0
    assert {e["userAccountControl"][0] for e in disabled.values()} == {b"514"}
    assert len(search(conn, slapd.people_dn, "(targetAddress=*)", ["1.1"])) == summary.forwarding > 0


def test_people_bind_with_the_default_password(ad):
    slapd, _ = ad
    dn, _ = ad_person_attrs(3)
    assert slapd.connection(dn, DEFAULT_PASSWORD).whoami_s() == f"dn:{dn}"
    with pytest.raises(ldap.INVALID_CREDENTIALS):
        slapd.connection(dn, "wrong")


def test_service_account_reads_but_cannot_write_or_see_password_hashes(ad):
    slapd, _ = ad
    dn, _ = ad_person_attrs(3)
    conn = slapd.service_connection()
    entry = search(conn, dn, "(objectClass=*)", ["mail", "userPassword"])[dn]
    assert "mail" in entry and "userPassword" not in entry
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        conn.modify_s(dn, [(ldap.MOD_REPLACE, "displayName", [b"nope"])])


# --- OpenLDAP-shaped data ---------------------------------------------------------------------------------------


def test_openldap_people_carry_alternate_and_forwarding_addresses(openldap):
    slapd, summary = openldap
    conn = slapd.service_connection()
    entries, _ = paged_search(conn, slapd.people_dn, "(objectClass=portalMailRecipient)",
                              ["mail", "mailAlternateAddress", "mailForwardingAddress", "proxyAddresses"])
    assert len(entries) == summary.count == OPENLDAP_PEOPLE
    assert sum(1 + len(e["mailAlternateAddress"]) for _, e in entries) == summary.addresses
    assert sum("mailForwardingAddress" in e for _, e in entries) == summary.forwarding > 0
    assert not any("proxyAddresses" in e for _, e in entries)

    dn, attrs = openldap_person_attrs(11)
    alias = attrs["mailAlternateAddress"][0]
    assert list(search(conn, slapd.people_dn, f"(mailAlternateAddress={alias.upper()})")) == [dn]


# --- online changes and server failures -------------------------------------------------------------------------


def test_modify_moves_modify_timestamp_and_deletes_with_none(scratch):
    dn, _ = ad_person_attrs(3)
    since = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y%m%d%H%M%SZ")
    recent = f"(&(objectClass=inetOrgPerson)(modifyTimestamp>={since}))"
    conn = scratch.service_connection()
    assert search(conn, scratch.people_dn, recent) == {}  # the seed dates everyone's last change in 2024

    scratch.modify(dn, {"displayName": ["Renamed"], "targetAddress": None, "mailNickname": []})
    scratch.modify(dn, {"targetAddress": None})  # deleting an absent attribute is not an error

    changed = search(conn, scratch.people_dn, recent, ["displayName", "targetAddress", "mailNickname"])
    assert list(changed) == [dn]
    assert changed[dn]["displayName"] == [b"Renamed"]
    assert "targetAddress" not in changed[dn] and "mailNickname" not in changed[dn]


def test_add_and_delete_online(scratch):
    dn, attrs = ad_person_attrs(SCRATCH_PEOPLE + 1)
    scratch.add(dn, attrs)
    conn = scratch.service_connection()
    alias = next(v for v in attrs["proxyAddresses"] if v.startswith("smtp:"))
    assert list(search(conn, scratch.people_dn, f"(proxyAddresses={alias})")) == [dn]
    scratch.delete(dn)
    assert search(conn, scratch.people_dn, f"(proxyAddresses={alias})") == {}


def test_restart_keeps_data_and_port(scratch):
    dn, attrs = ad_person_attrs(SCRATCH_PEOPLE + 1)
    scratch.add(dn, attrs)
    uri = scratch.uri
    scratch.restart()
    assert scratch.uri == uri and scratch.is_running
    people = search(scratch.service_connection(), scratch.people_dn, "(objectClass=inetOrgPerson)", ["1.1"])
    assert len(people) == SCRATCH_PEOPLE + 1 and dn in people


def test_stopped_server_is_down(scratch):
    conn = scratch.service_connection()
    scratch.stop()
    scratch.stop()  # idempotent
    assert not scratch.is_running
    with pytest.raises(ldap.SERVER_DOWN):
        conn.search_s(scratch.people_dn, ldap.SCOPE_SUBTREE, "(objectClass=*)")
    with pytest.raises(ldap.SERVER_DOWN):
        scratch.service_connection()


def test_paused_server_times_out_until_resumed(scratch):
    scratch.pause()
    try:
        with pytest.raises(ldap.TIMEOUT):
            scratch.service_connection(timeout=0.3)
    finally:
        scratch.resume()
    assert scratch.service_connection().whoami_s() == f"dn:{scratch.service_dn}"


def test_a_bad_seed_fails_with_slapadds_reason(tmp_path):
    def bad(fh):
        fh.write("dn: cn=x,ou=people,dc=example,dc=test\nobjectClass: person\ncn: x\nsn: x\nnoSuchAttr: 1\n\n")

    slapd = Slapd(tmp_path)
    with pytest.raises(SlapdError, match="noSuchAttr"):
        slapd.start_streaming(bad)
    assert not slapd.is_running


# --- the generators ---------------------------------------------------------------------------------------------


def _parse(text: str) -> list[tuple[str, dict[str, list[bytes]]]]:
    records = LDIFRecordList(io.StringIO(text))
    records.parse()
    return records.all_records


@pytest.mark.parametrize(("writer", "single"), [(write_ad_people, ad_person_attrs),
                                                (write_openldap_people, openldap_person_attrs)])
def test_ldif_writer_and_single_person_helper_agree(writer, single):
    out = io.StringIO()
    summary = writer(out, n=60, start=5, seed=3)
    records = _parse(out.getvalue())
    assert len(records) == summary.count == 60 and (summary.first, summary.last) == (5, 64)
    operational = {"entryUUID", "createTimestamp", "modifyTimestamp", "entryCSN"}
    for i, (dn, entry) in enumerate(records, start=5):
        expected_dn, expected = single(i, seed=3)
        assert dn == expected_dn
        assert {k: v for k, v in entry.items() if k not in operational} == _bytes(expected)
        assert operational <= entry.keys()


def test_generators_are_deterministic_and_independent_of_start():
    first, again, other = io.StringIO(), io.StringIO(), io.StringIO()
    write_ad_people(first, n=30)
    write_ad_people(again, n=30)
    write_ad_people(other, n=30, seed=2)
    assert first.getvalue() == again.getvalue() != other.getvalue()
    tail = io.StringIO()
    write_ad_people(tail, n=10, start=21)
    assert _parse(tail.getvalue()) == _parse(first.getvalue())[20:]


def test_ssha_hashes_verify():
    raw = base64.b64decode(ssha("sync-secret")[len("{SSHA}"):])
    digest, salt = raw[:20], raw[20:]
    assert hashlib.sha1(b"sync-secret" + salt).digest() == digest  # noqa: S324 - the scheme slapd verifies
    assert ssha("x") != ssha("x")  # salted
