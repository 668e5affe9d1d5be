"""Directory vendors behind one small interface, chosen by a connection's preset (`vendor_for`).

The quirks themselves are small pure functions, one module per vendor (`active_directory`,
`openldap`). A vendor applies them to its own attributes only, its preset's stable id and
disabled flag. An attribute the operator configured instead (`attribute_overrides`) is read
the generic way: the id as UTF-8 text, the flag as a yes/no value (or, for a lock attribute
such as pwdAccountLockedTime, any value means locked).

Readers are looked up once per run and then called for every entry: the sync runs them
100,000 times.
"""

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import ClassVar

from ldap.filter import escape_filter_chars

from directory_sync.models import Preset
from directory_sync.vendors import active_directory, openldap

IdDecoder = Callable[[bytes], str]  # one raw value -> the stable id; raises MalformedValue or UnicodeDecodeError
DisabledReader = Callable[[list[str]], bool]  # the attribute's text values -> disabled?


def decode_text_id(value: bytes) -> str:
    """A stable id that is plain text (an attribute configured by the operator: uid, employeeNumber, …)."""
    return value.decode("utf-8").strip()


class Vendor:
    """A directory vendor: its preset's attributes and default filter, and how its own attributes read."""

    preset: ClassVar[str]
    attributes: ClassVar[Mapping[str, str]]  # role -> attribute (directory_sync.mapping.ROLES)
    default_filter: ClassVar[str]

    # The vendor's own id and disabled attributes; a vendor without quirks reads them generically.
    decode_own_id: ClassVar[IdDecoder] = staticmethod(decode_text_id)
    own_id_value: ClassVar[Callable[[str], str]] = staticmethod(escape_filter_chars)
    read_own_disabled: ClassVar[DisabledReader | None] = None

    def id_decoder(self, attribute: str) -> IdDecoder:
        """How to read the stable id from one raw value of `attribute`."""
        return self.decode_own_id if self._owns("id", attribute) else decode_text_id

    def disabled_reader(self, attribute: str) -> DisabledReader:
        """How to tell from the values of `attribute` whether the person is disabled."""
        if self.read_own_disabled is not None and self._owns("disabled", attribute):
            return self.read_own_disabled
        return partial(openldap.is_disabled, attribute)

    def id_assertion(self, attribute: str, external_id: str) -> str:
        """The filter assertion, `(attribute=value)`, that finds the person with this stable id."""
        value = self.own_id_value(external_id) if self._owns("id", attribute) else escape_filter_chars(external_id)
        return f"({attribute}={value})"

    def _owns(self, role: str, attribute: str) -> bool:
        # LDAP attribute names are case-insensitive.
        return bool(attribute) and attribute.lower() == self.attributes[role].lower()


def _user_account_control(values: list[str]) -> bool:
    return bool(values) and active_directory.is_disabled(values[0])


class ActiveDirectory(Vendor):
    """Binary objectGUID, userAccountControl's disable bit."""

    preset = Preset.ACTIVE_DIRECTORY
    attributes = MappingProxyType(active_directory.ATTRIBUTES)
    default_filter = active_directory.DEFAULT_FILTER
    decode_own_id = staticmethod(active_directory.decode_guid)
    own_id_value = staticmethod(active_directory.guid_filter_value)
    read_own_disabled = staticmethod(_user_account_control)


class OpenLDAP(Vendor):
    """Textual entryUUID; no lock attribute of its own."""

    preset = Preset.OPENLDAP
    attributes = MappingProxyType(openldap.ATTRIBUTES)
    default_filter = openldap.DEFAULT_FILTER
    decode_own_id = staticmethod(openldap.decode_entry_uuid)


VENDORS: Mapping[str, Vendor] = MappingProxyType({vendor.preset: vendor for vendor in (ActiveDirectory(), OpenLDAP())})


def vendor_for(preset: str) -> Vendor:
    """The vendor of a preset (DirectoryConnection.preset); KeyError for an unknown one."""
    return VENDORS[preset]
