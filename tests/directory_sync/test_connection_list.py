"""The admin's list of directory connections names each one's source: CSV, or LDAP with its preset."""

import re

import pytest

from directory_sync.models import DirectoryConnection, Preset, SourceKind
from tests.accounts.factories import AdminFactory
from tests.conftest import login_with_second_factor
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def row_of(page: str, partner: str) -> str:
    return next(row for row in re.findall(r"<tr.*?</tr>", page, re.S) if partner in row)


def test_a_csv_connection_is_listed_as_csv_and_an_ldap_one_with_its_preset(client):
    DirectoryConnection.objects.create(partner=PartnerFactory(name="Csv Partner"), kind=SourceKind.CSV)
    DirectoryConnection.objects.create(partner=PartnerFactory(name="Ldap Partner"), kind=SourceKind.LDAP,
                                       preset=Preset.OPENLDAP, uri="ldaps://ldap.example", base_dn="dc=example")
    login_with_second_factor(client, AdminFactory())
    page = client.get("/admin/directory_sync/directoryconnection/").content.decode()
    csv_row, ldap_row = row_of(page, "Csv Partner"), row_of(page, "Ldap Partner")
    assert "CSV upload (no directory)" in csv_row and "Active Directory" not in csv_row
    assert "LDAP: OpenLDAP" in ldap_row
