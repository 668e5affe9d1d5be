"""Directory syncs over TLS against a real slapd: StartTLS and LDAPS, each verified against the configured CA.

One slapd serves the whole module (tests/ldap_server.py with `tls=True`): its own throwaway CA signed its
certificate for 127.0.0.1. A sync with that CA must read everyone; without it, or with an unrelated CA, the
handshake must fail, the run be recorded failed, and the message say TLS and the certificate are the problem
(libldap itself only says "Connect error" / "Can't contact LDAP server"). libldap keeps TLS settings globally
unless a handle builds its own context, so one connection's CA must not carry over to another.
"""

import ldap
import pytest

from directory_sync import errors
from directory_sync.models import DirectoryUser, Preset, SyncStatus
from directory_sync.services.connections import directory_connection_configure
from directory_sync.services.runs import directory_sync_run
from directory_sync.sources.ldap import connect
from tests.ldap_data import write_ad_people, write_base
from tests.ldap_server import Slapd, free_port, throwaway_ca
from tests.partners.factories import PartnerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PEOPLE = 50
PAGE_SIZE = 20  # three pages: paging continues over the encrypted connection
TRANSPORTS = ("starttls", "ldaps")
# What connect() says for any failed handshake, whatever the TLS library's own reason in the parentheses.
TLS_FAILED = r"^TLS with the directory failed \(.+\)\. Its certificate must be signed by the configured CA"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slapd-tls")
    seed = workdir / "seed.ldif"
    with open(seed, "w", encoding="utf-8") as fh:
        write_base(fh)
        write_ad_people(fh, n=PEOPLE)
    with Slapd(workdir / "slapd", tls=True) as server:
        server.start(seed)
        yield server


def configure(slapd, transport, *, ca_certificate, uri=None):
    """An AD connection to `slapd` over StartTLS (ldap://) or LDAPS, for a new partner."""
    starttls = transport == "starttls"
    return directory_connection_configure(
        partner=PartnerFactory(), preset=Preset.ACTIVE_DIRECTORY,
        uri=uri or (slapd.uri if starttls else slapd.ldaps_uri), start_tls=starttls,
        bind_dn=slapd.service_dn, bind_password=slapd.service_password, base_dn=slapd.people_dn,
        user_filter="(objectClass=adLiteObject)", page_size=PAGE_SIZE, ca_certificate=ca_certificate,
    )


def assert_refused_for_tls(connection):
    """The sync fails for good (not "unavailable", which is retried), its run says why, nothing was written."""
    with pytest.raises(errors.DirectoryError, match=TLS_FAILED) as caught:
        directory_sync_run(connection=connection, full=True)
    assert not isinstance(caught.value, errors.DirectoryUnavailable)  # a retry cannot fix a certificate
    run = caught.value.run
    run.refresh_from_db()
    assert (run.status, run.seen, run.error) == (SyncStatus.FAILED, 0, str(caught.value))
    assert not DirectoryUser.objects.filter(partner=connection.partner).exists()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_full_sync_with_the_servers_ca_reads_everyone(slapd, transport):
    connection = configure(slapd, transport, ca_certificate=slapd.ca_pem)
    run = directory_sync_run(connection=connection, full=True)
    assert (run.status, run.seen, run.created, run.skipped) == (SyncStatus.SUCCEEDED, PEOPLE, PEOPLE, 0)
    assert run.pages_done == 3
    assert DirectoryUser.objects.filter(partner=connection.partner).count() == PEOPLE


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_sync_connection_is_encrypted_and_bound_as_the_service_account(slapd, transport):
    connection = configure(slapd, transport, ca_certificate=slapd.ca_pem)
    with connect(connection) as conn:
        assert conn.get_option(ldap.OPT_X_TLS_VERSION).startswith("TLS")
        assert conn.whoami_s() == f"dn:{slapd.service_dn}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_without_a_ca_the_servers_certificate_is_refused(slapd, transport):
    # The system's trusted CAs (/etc/ldap/ldap.conf's TLS_CACERT) do not include the throwaway one.
    assert_refused_for_tls(configure(slapd, transport, ca_certificate=""))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unrelated_ca_is_refused(slapd, transport):
    assert_refused_for_tls(configure(slapd, transport, ca_certificate=throwaway_ca("Unrelated CA").pem))


def test_each_connection_is_verified_against_its_own_ca_only(slapd):
    global_ca_file = ldap.get_option(ldap.OPT_X_TLS_CACERTFILE)
    trusted = configure(slapd, "starttls", ca_certificate=slapd.ca_pem)
    untrusted = configure(slapd, "starttls", ca_certificate="")

    assert_refused_for_tls(untrusted)
    assert directory_sync_run(connection=trusted, full=True).status == SyncStatus.SUCCEEDED
    assert_refused_for_tls(untrusted)  # the trusted connection's CA did not stay behind in libldap
    assert ldap.get_option(ldap.OPT_X_TLS_CACERTFILE) == global_ca_file


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unreachable_tls_directory_is_unavailable_not_a_certificate_failure(slapd, transport):
    scheme = "ldap" if transport == "starttls" else "ldaps"
    connection = configure(slapd, transport, ca_certificate=slapd.ca_pem, uri=f"{scheme}://127.0.0.1:{free_port()}")
    with pytest.raises(errors.DirectoryUnavailable, match="unreachable") as caught:
        directory_sync_run(connection=connection, full=True)
    assert caught.value.run.status == SyncStatus.FAILED
