"""A lapsed (or never signed) agreement: invitations cannot be accepted, and the partner's people keep signing
in and see a banner saying what is blocked and who can renew it, read in one query (none for vendor staff)."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onboarding.errors import OnboardingError
from onboarding.models import InviteKind, InviteState
from onboarding.services.acceptance import invite_accept
from onboarding.services.invites import invite_create
from partners.context_processors import agreement_block
from partners.models import Agreement, PartnerKind
from partners.selectors import agreement_block_for
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.invite_links import ACCEPT, invite_open, mailed_code
from tests.partners.factories import AgreementFactory, PartnerFactory
from tests.partners.test_agreement_services import accept, publish, signer_of

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-phrase-7"


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def partner():
    manager = AccountManagerFactory(full_name="Alex Morgan")
    partner = PartnerFactory(kind=PartnerKind.RESELLER, name="Resell Co", slug="resell", account_manager=manager)
    AgreementFactory(partner=partner, version="2026.1", valid_until=timezone.localdate() + datetime.timedelta(days=3))
    return partner


def lapse(partner) -> None:
    Agreement.objects.filter(partner=partner).update(valid_until=timezone.localdate() - datetime.timedelta(days=1))


@pytest.fixture
def sent(partner, django_capture_on_commit_callbacks):
    """An invitation mailed while the agreement was current: (invite, the code of its link)."""
    with django_capture_on_commit_callbacks(execute=True):
        invite = invite_create(partner=partner, email="Rosa@Resell.example", name="Rosa Rot", kind=InviteKind.WELCOME)
    [message] = [m for m in mail.outbox if m.to == ["Rosa@Resell.example"]]
    invite.refresh_from_db()
    return invite, mailed_code(message.body)


# --- invitations ----------------------------------------------------------------------------------------------


def test_an_invitation_cannot_be_accepted_once_the_agreement_lapsed(partner, sent):
    invite, _ = sent
    signer_of(partner, full_name="Sue Signer")
    lapse(partner)

    with pytest.raises(OnboardingError) as refused:
        invite_accept(invite=invite, password=PASSWORD)

    assert "partner agreement has lapsed, so invitations cannot be accepted" in str(refused.value)
    assert "Sue Signer" in str(refused.value) and "Alex Morgan" in str(refused.value)
    invite.refresh_from_db()
    assert invite.state == InviteState.SENT and not invite.user.is_active


def test_the_invitation_page_says_why_and_who_renews(client, partner, sent):
    _, code = sent
    lapse(partner)

    invite_open(client, code)
    page = client.get(ACCEPT)

    assert page.status_code == 404
    body = page.content.decode()
    assert "Resell Co&#x27;s partner agreement has lapsed, so invitations cannot be accepted" in body
    assert "your account manager (Alex Morgan)" in body
    assert client.post(ACCEPT, {"password": PASSWORD, "password2": PASSWORD}).status_code == 404


def test_the_same_invitation_works_again_once_a_signer_renewed(partner, sent):
    invite, _ = sent
    lapse(partner)
    accept(partner, signer_of(partner), publish(kind=PartnerKind.RESELLER))

    user = invite_accept(invite=invite, password=PASSWORD)

    assert user.is_active


# --- the banner -----------------------------------------------------------------------------------------------


def test_people_of_a_lapsed_partner_keep_signing_in_and_see_what_is_blocked_and_who_renews(client, partner):
    signer_of(partner, full_name="Sue Signer")
    staff = UserFactory(partner=partner)
    lapse(partner)

    response = client.post("/accounts/login/", {"email": staff.email})  # identifier first: still offered
    assert response.status_code == 302
    client.force_login(staff)
    page = client.get(f"/partners/{partner.slug}/").content.decode()

    assert 'id="agreement-banner"' in page
    lapsed_on = timezone.localdate() - datetime.timedelta(days=1)
    assert f"Resell Co's partner agreement lapsed on {lapsed_on:%Y-%m-%d}." in page
    assert "no portal access can be requested, approved or sent, and invitations cannot be accepted" in page
    assert "Sue Signer (authorised signers, in the portal)" in page and "your account manager, Alex Morgan" in page
    assert "See the agreement" not in page  # partner staff do not see the agreement page


def test_a_partner_admin_is_linked_to_the_agreement_page(client, partner):
    lapse(partner)
    client.force_login(PartnerAdminFactory(partner=partner))
    page = client.get("/accounts/security/").content.decode()
    assert 'id="agreement-banner"' in page and f'href="/partners/{partner.slug}/agreement/"' in page


def test_a_partner_that_never_signed_is_told_so(client):
    partner = PartnerFactory(name="Fresh Ltd")
    client.force_login(UserFactory(partner=partner))
    page = client.get("/accounts/security/").content.decode()
    assert "Fresh Ltd has no signed partner agreement." in page


def test_no_banner_while_the_agreement_is_current(client, partner):
    client.force_login(UserFactory(partner=partner))
    assert 'id="agreement-banner"' not in client.get("/accounts/security/").content.decode()


def test_the_banner_is_read_in_one_query_whatever_the_number_of_signers(partner):
    for n in range(4):
        signer_of(partner, full_name=f"Signer {n}")
    lapse(partner)
    staff = UserFactory(partner=partner)

    with CaptureQueriesContext(connection) as captured:
        block = agreement_block_for(user=staff)

    assert len(captured) == 1
    assert block.signers == ("Signer 0", "Signer 1", "Signer 2", "Signer 3") and block.manager == "Alex Morgan"


def test_vendor_staff_cost_no_query(partner):
    lapse(partner)
    for user in (partner.account_manager, AdminFactory()):
        request = RequestFactory().get("/")
        request.user = user
        with CaptureQueriesContext(connection) as captured:
            context = agreement_block(request)
            assert not context["agreement_block"]
        assert len(captured) == 0
