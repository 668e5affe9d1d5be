"""The one set-up of a handle to an account's directory, and what other apps are given to reach it."""

import os
import uuid

import ldap
import pytest

from core.errors import PortalError
from directory_sync import errors
from directory_sync.models import DirectoryConnection, Preset, SourceKind
from directory_sync.selectors import directory_access
from directory_sync.sources.ldap import connection_options, person_filter, user_filter, uses_start_tls
from tests.directory_sync.factories import DirectoryConnectionFactory
from tests.partners.factories import PartnerFactory

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")


def connection(uri="ldap://dc.example.test", *, start_tls=True, ca_certificate="", **fields) -> DirectoryConnection:
    return DirectoryConnection(uri=uri, start_tls=start_tls, ca_certificate=ca_certificate, **fields)


@pytest.mark.parametrize(
    ("uri", "start_tls", "expected"),
    [
        ("ldap://dc.example.test", True, True),
        ("LDAP://dc.example.test", True, True),
        ("ldap://dc.example.test", False, False),
        ("ldaps://dc.example.test", True, False),  # TLS from the first byte: nothing to start
        ("ldaps://dc.example.test", False, False),
    ],
)
def test_start_tls_is_sent_only_on_a_plain_connection_that_asks_for_it(uri, start_tls, expected):
    assert uses_start_tls(connection(uri, start_tls=start_tls)) is expected


def test_the_options_carry_the_callers_timeouts_and_never_follow_referrals():
    with connection_options(connection(start_tls=False), network_timeout=5, operation_timeout=10) as options:
        assert options == {
            ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
            ldap.OPT_REFERRALS: 0,
            ldap.OPT_NETWORK_TIMEOUT: 5,
            ldap.OPT_TIMEOUT: 10,
        }


@pytest.mark.parametrize(("uri", "start_tls"), [("ldap://dc.example.test", True), ("ldaps://dc.example.test", False)])
def test_tls_demands_a_verified_certificate_and_builds_the_handle_s_own_context_last(uri, start_tls):
    with connection_options(
        connection(uri, start_tls=start_tls, ca_certificate=PEM), network_timeout=10, operation_timeout=120
    ) as options:
        assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
        assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX
        assert list(options).index(ldap.OPT_X_TLS_CACERTFILE) < list(options).index(ldap.OPT_X_TLS_NEWCTX)


def test_the_ca_certificate_is_a_file_for_the_block_only():
    with connection_options(connection(ca_certificate=PEM), network_timeout=10, operation_timeout=120) as options:
        path = options[ldap.OPT_X_TLS_CACERTFILE]
        with open(path, encoding="utf-8") as fh:
            assert fh.read() == PEM
    assert not os.path.exists(path)


def test_the_ca_file_is_removed_when_the_block_fails():
    options = connection_options(connection(ca_certificate=PEM), network_timeout=10, operation_timeout=120)
    with pytest.raises(RuntimeError), options as named:
        path = named[ldap.OPT_X_TLS_CACERTFILE]
        raise RuntimeError("bind failed")
    assert not os.path.exists(path)


def test_without_a_ca_no_file_is_named():
    with connection_options(connection(), network_timeout=10, operation_timeout=120) as options:
        assert ldap.OPT_X_TLS_CACERTFILE not in options


def test_the_user_filter_is_the_connection_s_own_or_its_preset_s():
    assert user_filter(connection(preset=Preset.OPENLDAP)) == "(objectClass=inetOrgPerson)"
    assert user_filter(connection(preset=Preset.OPENLDAP, user_filter="(uid=*)")) == "(uid=*)"


def test_a_person_is_found_by_the_stable_id_within_the_user_filter():
    ad = connection(preset=Preset.ACTIVE_DIRECTORY, attribute_overrides={})
    escaped = "".join(f"\\{byte:02x}" for byte in GUID.bytes_le)
    assert person_filter(ad, external_id=str(GUID)) == (
        f"(&(&(objectCategory=person)(objectClass=user))(objectGUID={escaped}))"
    )
    overridden = connection(preset=Preset.ACTIVE_DIRECTORY, attribute_overrides={"id": "employeeID"},
                            user_filter="(objectClass=adLiteObject)")
    assert person_filter(overridden, external_id="E*1") == r"(&(objectClass=adLiteObject)(employeeID=E\2a1))"


@pytest.mark.django_db
def test_other_apps_reach_an_account_s_directory_server_through_one_selector():
    ldap_connection = DirectoryConnectionFactory(uri="ldaps://dc.example.test", start_tls=True)
    access = directory_access(partner_id=ldap_connection.partner_id)
    assert (access.uri, access.start_tls, access.base_dn) == ("ldaps://dc.example.test", False, ldap_connection.base_dn)
    assert access.bind_password not in repr(access)


@pytest.mark.django_db
def test_an_account_without_a_directory_server_has_no_access():
    csv = DirectoryConnection.objects.create(partner=PartnerFactory(), kind=SourceKind.CSV)
    assert directory_access(partner_id=csv.partner_id) is None
    assert directory_access(partner_id=PartnerFactory().pk) is None


@pytest.mark.parametrize(
    "error",
    [
        errors.DirectoryError, errors.DirectoryUnavailable, errors.SyncError, errors.SyncAlreadyRunning,
        errors.CsvInvalid, errors.UnknownRole, errors.SkipEntry, errors.MalformedValue, errors.RefusedByBrake,
    ],
)
def test_every_directory_error_is_a_portal_error(error):
    assert issubclass(error, PortalError)


def test_errors_that_callers_catch_as_value_errors_still_are():
    assert issubclass(errors.UnknownRole, ValueError)
    assert issubclass(errors.MalformedValue, ValueError)
