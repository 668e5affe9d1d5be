"""Mapping directory entries to people: the Active Directory and OpenLDAP quirks."""

import re
import uuid

import pytest

from directory_sync.mapping import (
    PRESETS,
    SkipEntry,
    SourceKeys,
    content_hash,
    map_entry,
    requested_attributes,
    resolve_mapping,
)
from directory_sync.models import AddressKind, DirectoryUserStatus, Preset

AD = resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={})
OPENLDAP = resolve_mapping(preset=Preset.OPENLDAP, overrides={})
GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")


def ad_entry(**overrides) -> dict:
    attrs = {
        "objectGUID": [GUID.bytes_le],
        "displayName": [b"Jane Doe"],
        "mail": [b"jane.mail@example.test"],
        "proxyAddresses": [b"SMTP:Jane.Doe@Example.test", b"smtp:jd@example.test", b"X500:/o=x/cn=jane",
                           b"SIP:jane@example.test"],
        "targetAddress": [b"SMTP:jane@tenant.mail.example.net"],
        "userAccountControl": [b"512"],
        "uSNChanged": [b"4711"],
    }
    attrs.update(overrides)
    return {key: value for key, value in attrs.items() if value is not None}


def kinds(person) -> dict[str, str]:
    return {a.address: a.kind for a in person.addresses}


def test_upper_case_smtp_is_primary_lower_case_are_aliases_and_other_types_ignored():
    person = map_entry(dn="cn=jane", attrs=ad_entry(), mapping=AD, preset=Preset.ACTIVE_DIRECTORY)
    assert kinds(person) == {
        "jane.doe@example.test": AddressKind.PRIMARY,
        "jd@example.test": AddressKind.ALIAS,
        "jane@tenant.mail.example.net": AddressKind.FORWARDING,
    }
    assert person.primary.display == "Jane.Doe@Example.test"


def test_object_guid_is_read_as_sixteen_raw_little_endian_bytes():
    person = map_entry(dn="cn=jane", attrs=ad_entry(), mapping=AD, preset=Preset.ACTIVE_DIRECTORY)
    assert person.external_id == str(GUID)


def test_mail_is_the_primary_only_when_there_is_no_smtp_proxy_address():
    person = map_entry(
        dn="cn=jane", attrs=ad_entry(proxyAddresses=[b"smtp:jd@example.test"]), mapping=AD,
        preset=Preset.ACTIVE_DIRECTORY,
    )
    assert person.primary.address == "jane.mail@example.test"
    assert kinds(person)["jd@example.test"] == AddressKind.ALIAS


def test_user_account_control_bit_two_means_disabled():
    person = map_entry(dn="cn=jane", attrs=ad_entry(userAccountControl=[b"514"]), mapping=AD,
                       preset=Preset.ACTIVE_DIRECTORY)
    assert person.status == DirectoryUserStatus.DISABLED
    person = map_entry(dn="cn=jane", attrs=ad_entry(userAccountControl=[b"66048"]), mapping=AD,
                       preset=Preset.ACTIVE_DIRECTORY)
    assert person.status == DirectoryUserStatus.ACTIVE


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        ({"objectGUID": None}, "no objectGUID"),
        ({"objectGUID": [b"short"]}, "objectGUID must be 16 bytes"),
        ({"proxyAddresses": [b"X500:/o=x"], "mail": None}, "no primary address"),
        ({"proxyAddresses": [b"SMTP:a@example.test", b"SMTP:b@example.test"]}, "2 primary (SMTP:) proxy addresses"),
        ({"proxyAddresses": [b"SMTP:not an address"]}, "the primary address is malformed"),
        ({"userAccountControl": [b"enabled"]}, "userAccountControl is not an integer"),
        ({"displayName": [b"\xff\xfe"]}, "displayName is not UTF-8"),
    ],
)
def test_unusable_entries_are_skipped_with_a_reason(attrs, reason):
    with pytest.raises(SkipEntry, match=re.escape(reason)):
        map_entry(dn="cn=bad", attrs=ad_entry(**attrs), mapping=AD, preset=Preset.ACTIVE_DIRECTORY)


def test_a_malformed_alias_is_ignored_and_recorded_not_fatal():
    person = map_entry(
        dn="cn=jane", attrs=ad_entry(proxyAddresses=[b"SMTP:jane@example.test", b"smtp:not an address"]),
        mapping=AD, preset=Preset.ACTIVE_DIRECTORY,
    )
    assert person.primary.address == "jane@example.test"
    assert person.ignored == ["malformed alias address 'not an address' ignored"]


def test_openldap_preset_reads_entry_uuid_mail_and_alternate_addresses():
    entry_uuid = str(uuid.uuid4())
    attrs = {
        "entryUUID": [entry_uuid.upper().encode()],
        "cn": [b"Olaf Open"],
        "mail": [b"Olaf@Example.test"],
        "mailAlternateAddress": [b"olaf.alt@example.test"],
        "mailForwardingAddress": [b"olaf@elsewhere.example"],
        "modifyTimestamp": [b"20261126101500Z"],
    }
    person = map_entry(dn="uid=olaf", attrs=attrs, mapping=OPENLDAP, preset=Preset.OPENLDAP)
    assert person.external_id == entry_uuid
    assert person.name == "Olaf Open"
    assert person.changed == "20261126101500Z"
    assert kinds(person) == {
        "olaf@example.test": AddressKind.PRIMARY,
        "olaf.alt@example.test": AddressKind.ALIAS,
        "olaf@elsewhere.example": AddressKind.FORWARDING,
    }


def test_an_override_changes_one_role_and_keeps_the_rest():
    mapping = resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={"changed": "modifyTimestamp"})
    assert mapping["changed"] == "modifyTimestamp"
    assert {k: v for k, v in mapping.items() if k != "changed"} == {
        k: v for k, v in PRESETS[Preset.ACTIVE_DIRECTORY].items() if k != "changed"
    }


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="Unknown attribute role"):
        resolve_mapping(preset=Preset.OPENLDAP, overrides={"colour": "blue"})


def test_only_the_mapped_attributes_are_requested():
    assert requested_attributes(AD) == sorted(
        ["cn", "displayName", "mail", "objectGUID", "proxyAddresses", "targetAddress", "userAccountControl",
         "uSNChanged"]
    )


def test_the_content_hash_changes_with_any_stored_field_and_only_then():
    base = map_entry(dn="cn=jane", attrs=ad_entry(), mapping=AD, preset=Preset.ACTIVE_DIRECTORY)
    same = map_entry(dn="cn=jane", attrs=ad_entry(uSNChanged=[b"9999"]), mapping=AD,
                     preset=Preset.ACTIVE_DIRECTORY)
    renamed = map_entry(dn="cn=jane", attrs=ad_entry(displayName=[b"Jane Q. Doe"]), mapping=AD,
                        preset=Preset.ACTIVE_DIRECTORY)
    reordered = map_entry(
        dn="cn=jane",
        attrs=ad_entry(proxyAddresses=list(reversed(ad_entry()["proxyAddresses"]))),
        mapping=AD, preset=Preset.ACTIVE_DIRECTORY,
    )
    assert content_hash(base) == content_hash(same) == content_hash(reordered)
    assert content_hash(base) != content_hash(renamed)


def test_the_source_digest_ignores_the_change_marker_and_sees_everything_else():
    keys = SourceKeys(AD)
    guid, digest, marker = keys(("cn=jane", ad_entry()))
    assert (guid, marker) == (str(GUID), "4711")
    assert keys(("cn=jane", ad_entry(uSNChanged=[b"9999"])))[1] == digest
    assert keys(("cn=jane", ad_entry(displayName=[b"Jane Q. Doe"])))[1] != digest
    assert keys(("cn=jane,ou=moved", ad_entry()))[1] != digest
    assert SourceKeys(resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={"forwarding": ""}))(
        ("cn=jane", ad_entry()))[1] != digest
    assert keys(("cn=bad", ad_entry(objectGUID=[b"short"]))) is None
