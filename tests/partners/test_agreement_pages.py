"""A partner's agreement page: who sees it (404 for everyone else), what it shows, the accept form for
authorised signers only, the downloads of a published version, and its history at any length in the same
number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners import errors
from partners.models import Agreement, PartnerKind, SignedVia
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.test_agreement_services import PDF_2027, publish, signer_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def partner():
    partner = PartnerFactory(kind=PartnerKind.MSP, name="Acme MSP", slug="acme")
    AgreementFactory(partner=partner, version="2026.1", valid_until=timezone.localdate() + datetime.timedelta(days=20))
    return partner


def page_of(client, user, partner):
    client.force_login(user)
    return client.get(reverse("partners:agreement", args=[partner.slug]))


def test_its_partner_admins_its_account_manager_and_admins_see_the_page(client, partner):
    for user in (PartnerAdminFactory(partner=partner), partner.account_manager, AdminFactory()):
        response = page_of(client, user, partner)
        assert response.status_code == 200
        assert "v2026.1 is current" in response.content.decode()


def test_everyone_else_gets_404(client, partner):
    for user in (UserFactory(partner=partner), PartnerAdminFactory(), AccountManagerFactory()):
        assert page_of(client, user, partner).status_code == 404
    client.logout()
    assert client.get(reverse("partners:agreement", args=[partner.slug])).status_code == 302  # to sign-in


def test_a_signer_sees_the_new_version_its_hash_and_the_accept_form(client, partner):
    version = publish()
    page = page_of(client, signer_of(partner), partner).content.decode()

    assert "New version to sign: v2027.1" in page and version.document_sha256 in page
    assert 'id="accept-form"' in page and 'name="csrfmiddlewaretoken"' in page
    assert '<label for="id_full_name">' in page and '<label for="id_title">' in page
    assert reverse("partners:agreement_version_document", args=[version.pk]) in page


def test_a_partner_admin_who_is_not_a_signer_is_told_who_signs(client, partner):
    publish()
    signer_of(partner, full_name="Sue Signer")
    page = page_of(client, PartnerAdminFactory(partner=partner), partner).content.decode()

    assert 'id="accept-form"' not in page
    assert "Authorised signers, who accept it here: Sue Signer." in page


def test_accepting_on_the_page_signs_the_agreement(client, partner):
    version = publish()
    person = signer_of(partner)
    client.force_login(person)

    response = client.post(reverse("partners:agreement", args=[partner.slug]), {
        "version_id": version.pk, "document_sha256": version.document_sha256, "full_name": "Pat Adams",
        "title": "Director", "confirmed": "on"}, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    agreement = partner.agreements.get(agreement_version=version)
    assert (agreement.signed_via, agreement.signed_by_user, agreement.signed_from_ip) == (
        SignedVia.PORTAL, person, "198.51.100.4")
    page = client.get(response["Location"]).content.decode()
    assert "You accepted partner agreement v2027.1 for Acme MSP." in page and "v2027.1 is current" in page


def test_an_unticked_box_accepts_nothing_and_says_why(client, partner):
    version = publish()
    client.force_login(signer_of(partner))
    response = client.post(reverse("partners:agreement", args=[partner.slug]), {
        "version_id": version.pk, "document_sha256": version.document_sha256, "full_name": "Pat Adams",
        "title": "Director"})

    assert response.status_code == 200
    assert "Tick “I accept” to accept the agreement." in response.content.decode()
    assert not partner.agreements.filter(agreement_version=version).exists()


def test_a_stale_page_accepts_nothing_and_says_why(client, partner):
    read = publish("2027.1")
    publish("2027.2")
    client.force_login(signer_of(partner))
    response = client.post(reverse("partners:agreement", args=[partner.slug]), {
        "version_id": read.pk, "document_sha256": read.document_sha256, "full_name": "Pat Adams",
        "title": "Director", "confirmed": "on"})

    assert response.status_code == 200
    assert str(errors.VERSION_STALE.format(label="2027.2")) in response.content.decode()
    assert not Agreement.objects.filter(agreement_version__isnull=False).exists()


def test_a_post_from_someone_who_may_not_sign_changes_nothing(client, partner):
    version = publish()
    client.force_login(PartnerAdminFactory(partner=partner))
    response = client.post(reverse("partners:agreement", args=[partner.slug]), {
        "version_id": version.pk, "document_sha256": version.document_sha256, "full_name": "X", "title": "Y",
        "confirmed": "on"})

    assert response.status_code == 302
    assert not partner.agreements.filter(agreement_version=version).exists()


def test_a_published_versions_document_is_downloaded_by_those_of_its_kind_only(client, partner):
    version = publish()
    url = reverse("partners:agreement_version_document", args=[version.pk])
    reseller = PartnerFactory(kind=PartnerKind.RESELLER)

    for user in (PartnerAdminFactory(partner=partner), partner.account_manager, AdminFactory()):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF_2027
        assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]
    for user in (UserFactory(partner=partner), PartnerAdminFactory(partner=reseller), reseller.account_manager):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_the_partner_page_links_the_agreement_page(client, partner):
    client.force_login(PartnerAdminFactory(partner=partner))
    page = client.get(reverse("onboarding:partner_detail", args=[partner.slug])).content.decode()
    assert f'href="{reverse("partners:agreement", args=[partner.slug])}"' in page


def test_the_history_takes_the_same_queries_at_any_length(client, partner):
    person = signer_of(partner)
    publish()
    counts = []
    for size in (3, 60):
        while partner.agreements.count() < size:
            n = partner.agreements.count()
            AgreementFactory(partner=partner, version=f"2020.{n}", signed_at=timezone.now() - datetime.timedelta(
                days=400 + n), valid_until=timezone.localdate() - datetime.timedelta(days=n))
        client.force_login(person)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("partners:agreement", args=[partner.slug]))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert "Page 1 of 3" in response.content.decode()


def test_the_partner_page_tells_a_signer_a_new_version_waits(client, partner):
    publish()
    client.force_login(signer_of(partner))
    page = client.get(reverse("onboarding:partner_detail", args=[partner.slug])).content.decode()
    assert "Partner agreement v2027.1 is published and waiting to be signed." in page
    assert "Read and accept it" in page


def test_partner_staff_are_not_told_of_a_new_version(client, partner):
    publish()
    client.force_login(UserFactory(partner=partner))
    page = client.get(reverse("onboarding:partner_detail", args=[partner.slug])).content.decode()
    assert "waiting to be signed" not in page and "v2026.1, signed" in page
