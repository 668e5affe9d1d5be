"""Domain passwords: an LDAP bind against the partner's own directory (a real slapd)."""

import os

import ldap
import pytest

from accounts import errors
from accounts.backends import DomainPasswordBackend
from accounts.models import Role, User
from core.models import AuditEvent
from directory_sync.models import DirectoryUser
from directory_sync.services.connections import directory_connection_configure
from directory_sync.services.runs import directory_sync_run
from partners.models import AccountDomain, AuthMethod
from tests.ldap_data import DEFAULT_PASSWORD, ad_person_attrs, write_ad_people, write_base
from tests.ldap_server import Slapd, start_with_people
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def slapd(tmp_path):
    server, _ = start_with_people(tmp_path, write_ad_people, 20)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory):
    """A slapd offering StartTLS and LDAPS, its certificate signed by a throwaway CA."""
    workdir = tmp_path_factory.mktemp("slapd-tls")
    seed = workdir / "seed.ldif"
    with open(seed, "w", encoding="utf-8") as fh:
        write_base(fh)
        write_ad_people(fh, n=20)
    with Slapd(workdir / "slapd", tls=True) as server:
        server.start(seed)
        yield server


def domain_account(slapd, **fields):
    """A partner whose people sign in with their domain password, its directory synced (plain LDAP unless
    `fields` say otherwise)."""
    fields = {"uri": slapd.uri, "start_tls": False, **fields}
    partner = PartnerFactory(slug="domain-co")
    settings = partner.account_settings
    settings.auth_method = AuthMethod.DOMAIN_PASSWORD
    settings.save()
    AccountDomain.objects.create(partner=partner, domain="example.test")
    connection = directory_connection_configure(
        partner=partner, preset="active-directory", bind_dn=slapd.service_dn, bind_password=slapd.service_password,
        base_dn=slapd.people_dn, user_filter="(objectClass=adLiteObject)", **fields,
    )
    directory_sync_run(connection=connection, full=True)
    return partner


@pytest.fixture
def account(slapd):
    return domain_account(slapd)


def person(i: int) -> dict:
    """Primary address, an alias and whether the directory disables person i."""
    _, attrs = ad_person_attrs(i)
    proxies = attrs["proxyAddresses"]
    return {
        "primary": next(v for v in proxies if v.startswith("SMTP:"))[5:],
        "alias": next(v for v in proxies if v.startswith("smtp:"))[5:],
        "disabled": attrs["userAccountControl"] == ["514"],
    }


def portal_user_for(partner, i: int) -> User:
    primary = person(i)["primary"]
    user = User.objects.create_user(primary, None, role=Role.PARTNER_STAFF, partner=partner)
    user.directory_user = DirectoryUser.objects.get(partner=partner, addresses__address=user.email)
    user.save()
    return user


def enabled_index() -> int:
    return next(i for i in range(1, 21) if not person(i)["disabled"])


def sign_in(client, email, password):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def test_the_domain_password_signs_in_through_the_directory(client, account):
    user = portal_user_for(account, enabled_index())
    response = sign_in(client, person(enabled_index())["primary"], DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["_auth_user_backend"] == "accounts.backends.DomainPasswordBackend"
    event = AuditEvent.objects.get(action="signin.succeeded")
    assert event.data["method"] == AuthMethod.DOMAIN_PASSWORD


def test_the_password_page_asks_for_the_domain_password(client, account):
    client.post("/accounts/login/", {"email": person(enabled_index())["primary"]})
    page = client.get("/accounts/login/password/").content.decode()
    assert "Your domain password" in page
    assert "Forgot your password?" not in page  # domain passwords are reset by the partner's IT


def test_a_wrong_domain_password_is_refused_like_any_other_failure(client, account):
    portal_user_for(account, enabled_index())
    response = sign_in(client, person(enabled_index())["primary"], "not-the-password")
    assert response.status_code == 200
    assert str(errors.SIGN_IN_FAILED) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_person_disabled_in_the_directory_cannot_sign_in(client, account):
    disabled = next(i for i in range(1, 21) if person(i)["disabled"])
    portal_user_for(account, disabled)
    response = sign_in(client, person(disabled)["primary"], DEFAULT_PASSWORD)
    assert str(errors.SIGN_IN_FAILED) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_alias_cannot_sign_in_even_with_the_right_password(client, account):
    index = enabled_index()
    portal_user_for(account, index)
    response = sign_in(client, person(index)["alias"], DEFAULT_PASSWORD)
    assert str(errors.SIGN_IN_FAILED) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unreachable_directory_says_so_and_falls_back_to_nothing(client, account, slapd):
    user = portal_user_for(account, enabled_index())
    user.set_password(DEFAULT_PASSWORD)  # even a cloud password that would match is not tried
    user.save()
    slapd.stop()
    response = sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 503
    assert str(errors.DIRECTORY_UNREACHABLE) in response.content.decode()
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert user.is_active  # an outage never deactivates anyone


def test_an_unknown_address_on_a_down_directory_reads_the_same_as_a_known_one(client, account, slapd):
    portal_user_for(account, enabled_index())
    slapd.stop()
    response = sign_in(client, "nobody.here@example.test", DEFAULT_PASSWORD)
    assert response.status_code == 503
    assert str(errors.DIRECTORY_UNREACHABLE) in response.content.decode()


def test_filter_characters_in_the_address_reach_no_ldap_filter(client, account):
    portal_user_for(account, enabled_index())
    for address in ("*@example.test", "a)(uid=*@example.test", "x\\2a@example.test"):
        response = sign_in(client, address, DEFAULT_PASSWORD)
        assert "_auth_user_id" not in client.session, address
        assert response.status_code in (200, 302)


def test_an_invitation_is_accepted_with_the_domain_password(client, account, django_capture_on_commit_callbacks):
    from onboarding.models import InviteState
    from onboarding.services.invites import invite_create
    from tests.conftest import invite_link_token

    index = enabled_index()
    AgreementFactory(partner=account)  # R1: no invitation without a current agreement
    with django_capture_on_commit_callbacks(execute=True):
        invite = invite_create(partner=account, email=person(index)["primary"], name="Invited")
    link = invite_link_token(invite, client)
    wrong = client.post(link, {"password": "not-it"})
    assert "That is not your domain password" in wrong.content.decode()
    assert not User.objects.get(pk=invite.user_id).is_active
    response = client.post(link, {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    invite.refresh_from_db()
    assert invite.state == InviteState.ACCEPTED
    assert client.session["_auth_user_id"] == str(invite.user_id)


@pytest.mark.parametrize("transport", ["starttls", "ldaps"])
def test_the_domain_password_is_checked_over_tls_verified_against_the_account_s_ca(client, tls_slapd, transport):
    starttls = transport == "starttls"
    partner = domain_account(
        tls_slapd, uri=tls_slapd.uri if starttls else tls_slapd.ldaps_uri, start_tls=starttls,
        ca_certificate=tls_slapd.ca_pem,
    )
    user = portal_user_for(partner, enabled_index())
    wrong = sign_in(client, user.email, "not-the-password")
    assert str(errors.SIGN_IN_FAILED) in wrong.content.decode()
    response = sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_bind_has_the_sign_in_timeouts_and_leaves_no_ca_file_behind(tls_slapd):
    partner = domain_account(tls_slapd, start_tls=True, ca_certificate=tls_slapd.ca_pem)
    user = portal_user_for(partner, enabled_index())
    backend = DomainPasswordBackend()
    assert backend.authenticate(None, username=user.email, password=DEFAULT_PASSWORD) == user
    options = backend.settings.CONNECTION_OPTIONS
    assert (options[ldap.OPT_NETWORK_TIMEOUT], options[ldap.OPT_TIMEOUT]) == (5, 10)
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    assert backend.settings.START_TLS
    assert not os.path.exists(options[ldap.OPT_X_TLS_CACERTFILE])


def test_a_stable_id_the_operator_chose_finds_the_person_as_text(client, slapd):
    partner = domain_account(slapd, attribute_overrides={"id": "cn"})
    user = portal_user_for(partner, enabled_index())
    assert user.directory_user.external_id == ad_person_attrs(enabled_index())[1]["cn"][0]
    response = sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
