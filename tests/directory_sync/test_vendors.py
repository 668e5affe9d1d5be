"""The vendor interface: chosen by the preset, its quirks applied to its own attributes only."""

import re
import uuid

import pytest

from directory_sync.errors import MalformedValue, SkipEntry
from directory_sync.mapping import PRESETS, EntryMapper, SourceKeys, map_entry, resolve_mapping
from directory_sync.models import DirectoryUserStatus, Preset
from directory_sync.vendors import ActiveDirectory, OpenLDAP, vendor_for
from directory_sync.vendors.active_directory import guid_filter_value
from directory_sync.vendors.openldap import decode_entry_uuid

GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")
GUID_IN_A_FILTER = r"\78\56\34\12\34\12\78\56\9a\bc\de\f0\12\34\56\78"


def entry(**attrs) -> tuple[str, dict[str, list[bytes]]]:
    return "cn=jane,ou=people", {"mail": [b"jane@example.test"], "cn": [b"Jane"], **attrs}


def both_ids(mapping, raw_entry) -> tuple[str, str]:
    """The stable id as the fast path (SourceKeys) and the mapping see it."""
    key = SourceKeys(mapping)(raw_entry)
    return (key[0] if key else None), EntryMapper(mapping)(raw_entry).external_id


def test_the_vendor_is_chosen_by_the_preset():
    assert isinstance(vendor_for(Preset.ACTIVE_DIRECTORY), ActiveDirectory)
    assert isinstance(vendor_for("openldap"), OpenLDAP)
    with pytest.raises(KeyError):
        vendor_for("novell")


def test_each_preset_s_attributes_and_filter_live_with_its_vendor():
    assert PRESETS[Preset.ACTIVE_DIRECTORY]["id"] == "objectGUID"
    assert PRESETS[Preset.OPENLDAP]["id"] == "entryUUID"
    assert vendor_for(Preset.ACTIVE_DIRECTORY).default_filter == "(&(objectCategory=person)(objectClass=user))"
    assert vendor_for(Preset.OPENLDAP).default_filter == "(objectClass=inetOrgPerson)"


def test_active_directory_finds_a_person_by_the_guid_s_little_endian_bytes_escaped_one_by_one():
    assert guid_filter_value(str(GUID)) == GUID_IN_A_FILTER
    assertion = vendor_for(Preset.ACTIVE_DIRECTORY).id_assertion("objectGUID", str(GUID))
    assert assertion == f"(objectGUID={GUID_IN_A_FILTER})"


def test_an_id_attribute_of_the_operator_s_choosing_is_text_in_a_filter_with_its_special_characters_escaped():
    assertion = vendor_for(Preset.ACTIVE_DIRECTORY).id_assertion("employeeID", "a*(b)\\")
    assert assertion == r"(employeeID=a\2a\28b\29\5c)"


def test_openldap_finds_a_person_by_the_entry_uuid_as_text():
    assert vendor_for(Preset.OPENLDAP).id_assertion("entryUUID", str(GUID)) == f"(entryUUID={GUID})"


@pytest.mark.parametrize("text", [str(GUID), str(GUID).upper(), "{" + str(GUID) + "}", GUID.hex])
def test_an_entry_uuid_in_any_of_its_text_forms_reads_as_the_canonical_one(text):
    assert decode_entry_uuid(text.encode()) == str(GUID)


def test_a_malformed_entry_uuid_is_a_malformed_value():
    with pytest.raises(MalformedValue, match="entryUUID is not a UUID"):
        decode_entry_uuid(b"not-a-uuid")


def test_the_fast_path_and_the_mapping_agree_on_an_active_directory_guid():
    mapping = resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={})
    assert both_ids(mapping, entry(objectGUID=[GUID.bytes_le])) == (str(GUID), str(GUID))


def test_the_fast_path_and_the_mapping_agree_on_an_upper_case_entry_uuid():
    mapping = resolve_mapping(preset=Preset.OPENLDAP, overrides={})
    assert both_ids(mapping, entry(entryUUID=[str(GUID).upper().encode()])) == (str(GUID), str(GUID))


def test_the_fast_path_and_the_mapping_agree_on_an_overridden_text_id_keeping_its_case():
    # Once SourceKeys lower-cased text ids and the mapping did not: the key then matched no stored person.
    mapping = resolve_mapping(preset=Preset.OPENLDAP, overrides={"id": "employeeNumber"})
    assert both_ids(mapping, entry(employeeNumber=[b" EMP-0042 "])) == ("EMP-0042", "EMP-0042")


def test_an_overridden_id_is_read_as_text_even_when_another_vendor_names_it_so():
    mapping = resolve_mapping(preset=Preset.OPENLDAP, overrides={"id": "objectGUID"})
    raw = entry(objectGUID=[b"guid-as-text"])
    assert both_ids(mapping, raw) == ("guid-as-text", "guid-as-text")
    binary = entry(objectGUID=[GUID.bytes_le])
    assert SourceKeys(mapping)(binary) is None  # not UTF-8: the mapping says why
    with pytest.raises(SkipEntry):
        EntryMapper(mapping)(binary)


def test_the_vendor_s_own_id_is_recognised_whatever_the_case_of_its_name():
    mapping = resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={"id": "objectguid"})
    assert both_ids(mapping, entry(objectguid=[GUID.bytes_le])) == (str(GUID), str(GUID))


def test_map_entry_reads_the_preset_it_is_given():
    person = map_entry(
        dn="cn=jane", attrs=entry(objectGUID=[GUID.bytes_le])[1],
        mapping=resolve_mapping(preset=Preset.ACTIVE_DIRECTORY, overrides={}), preset=Preset.ACTIVE_DIRECTORY,
    )
    assert person.external_id == str(GUID)


def status(preset, overrides, **attrs) -> str:
    mapping = resolve_mapping(preset=preset, overrides=overrides)
    return EntryMapper(mapping)(entry(objectGUID=[GUID.bytes_le], entryUUID=[str(GUID).encode()], **attrs)).status


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([b"514"], DirectoryUserStatus.DISABLED),
        ([b"512"], DirectoryUserStatus.ACTIVE),
        (None, DirectoryUserStatus.ACTIVE),
    ],
)
def test_active_directory_reads_its_own_user_account_control_bit(values, expected):
    attrs = {"userAccountControl": values} if values else {}
    assert status(Preset.ACTIVE_DIRECTORY, {}, **attrs) == expected


@pytest.mark.parametrize(
    ("attribute", "values", "expected"),
    [
        ("nsAccountLock", [b"TRUE"], DirectoryUserStatus.DISABLED),
        ("nsAccountLock", [b"false"], DirectoryUserStatus.ACTIVE),
        ("pwdAccountLockedTime", [b"000001010000Z"], DirectoryUserStatus.DISABLED),
        ("pwdAccountLockedTime", [b"20261129120000Z"], DirectoryUserStatus.DISABLED),
    ],
)
@pytest.mark.parametrize("preset", [Preset.OPENLDAP, Preset.ACTIVE_DIRECTORY])
def test_a_disabled_attribute_of_the_operator_s_choosing_reads_as_a_lock_flag(preset, attribute, values, expected):
    assert status(preset, {"disabled": attribute}, **{attribute: values}) == expected


def test_user_account_control_configured_on_openldap_is_a_plain_flag_not_active_directory_s_bit_field():
    assert status(Preset.OPENLDAP, {"disabled": "userAccountControl"}, userAccountControl=[b"514"]) \
        == DirectoryUserStatus.ACTIVE


def test_a_malformed_user_account_control_skips_the_entry_with_the_reason():
    with pytest.raises(SkipEntry, match=re.escape("userAccountControl is not an integer")):
        status(Preset.ACTIVE_DIRECTORY, {}, userAccountControl=[b"enabled"])
