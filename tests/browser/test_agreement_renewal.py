"""In Chromium: the agreement of a partner has lapsed; its authorised signer signs in, sees the banner, opens the
agreement page, downloads the new version, accepts it (name, title, "I accept"), and access is open again."""

import hashlib
import re

import pytest

from core.models import AuditEvent
from partners.models import PartnerKind, SignedVia
from partners.selectors import current_agreement
from tests.accounts.factories import PASSWORD, PartnerAdminFactory
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.test_agreement_services import PDF_2027, publish, signer_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, email, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_an_authorised_signer_accepts_a_new_agreement_version(live_server, page, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    settings.PORTAL_URL = live_server.url
    partner = PartnerFactory(slug="acme", name="Acme MSP", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner, version="2026.1", valid_until="2026-01-31")  # lapsed
    version = publish("2027.1", valid_for_days=365)
    signer = signer_of(partner, display_email="pat@acme.example", full_name="Pat Adams")
    PartnerAdminFactory(partner=partner, display_email="quinn@acme.example")
    url = live_server.url

    sign_in(page, url, signer.email, PASSWORD)
    banner = page.locator("#agreement-banner")
    assert "Acme MSP's partner agreement lapsed on 2026-01-31." in banner.inner_text()
    assert "Pat Adams (authorised signers, in the portal)" in banner.inner_text()

    banner.get_by_role("link", name="See the agreement").click()
    page.wait_for_url(f"{url}/partners/acme/agreement/")
    assert "lapsed on 2026-01-31" in page.locator("#agreement-state").inner_text()
    shown_hash = page.locator("#offered-sha256").inner_text().strip()
    assert shown_hash == version.document_sha256
    with page.expect_download() as download:
        page.locator("#offered-download").click()
    assert download.value.suggested_filename == "agreement-2027.1.pdf"
    assert hashlib.sha256(open(download.value.path(), "rb").read()).hexdigest() == shown_hash  # noqa: SIM115

    page.get_by_label("Your full name").fill("Pat Adams")
    page.get_by_label("Your title").fill("Managing Director")
    page.get_by_role("button", name="Accept v2027.1").click()  # the box is not ticked: the browser holds it back
    assert page.locator("#id_confirmed").evaluate("box => box.validity.valueMissing")
    assert current_agreement(partner=partner) is None

    page.get_by_label(re.compile("I accept this agreement")).check()
    page.get_by_role("button", name="Accept v2027.1").click()
    page.wait_for_url(f"{url}/partners/acme/agreement/")

    assert "You accepted partner agreement v2027.1 for Acme MSP." in page.locator(".messages").inner_text()
    assert "v2027.1 is current" in page.locator("#agreement-state").inner_text()
    assert page.locator("#agreement-banner").count() == 0
    assert page.locator("#offered-version").count() == 0
    agreement = current_agreement(partner=partner)
    assert (agreement.version, agreement.signed_via, agreement.signed_by_user) == ("2027.1", SignedVia.PORTAL, signer)
    assert (agreement.signed_by_name, agreement.signed_by_title) == ("Pat Adams", "Managing Director")
    assert agreement.signed_from_ip == "127.0.0.1" and agreement.document_sha256 == shown_hash
    assert AuditEvent.objects.filter(action="agreement.accepted", actor=signer).count() == 1

    with page.expect_download() as signed:
        page.locator("#agreement-download").click()
    assert open(signed.value.path(), "rb").read() == PDF_2027  # noqa: SIM115

    page.goto(f"{url}/partners/acme/")  # the partner page: access can be requested again
    assert page.locator("#agreement-banner").count() == 0
    assert page.get_by_role("link", name="Request portal access for people").count() == 1
