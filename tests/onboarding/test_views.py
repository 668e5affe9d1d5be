"""The onboarding pages: who sees what (isolation), submitting, reviewing, invites and acceptance."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import Invite, InviteState, ItemState, PortalUserRequest, RequestItem
from onboarding.services.requests import request_submit
from onboarding.services.review import request_item_approve
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.invite_links import RENEW, invite_open, mailed_code, opened
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def msp(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Ann Able,ann@acme.example,ann.alias@acme.example,,yes\n"
        b"Bob Baker,bob@acme.example,,,yes\n"
    ))
    return partner


@pytest.fixture
def other():
    partner = PartnerFactory(slug="other", name="Other Ltd")
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def partner_admin(msp):
    return PartnerAdminFactory(partner=msp)


def submitted(partner, actor, rows=(("Ann Able", "ann@acme.example"),)):
    return request_submit(partner=partner, actor=actor, rows=list(rows))


# -- isolation: another partner's ids answer 404 ----------------------------------------------------

def test_partner_staff_see_only_their_own_partner_pages(client, msp, other, partner_admin):
    foreign_admin = PartnerAdminFactory(partner=other)
    foreign = submitted(other, foreign_admin, rows=[("Olga", "olga@other.example")])
    foreign_item = foreign.items.get()
    client.force_login(partner_admin)
    for url in [
        "/partners/other/",
        f"/partners/other/requests/{foreign.pk}/",
        f"/partners/acme/requests/{foreign.pk}/",
        f"/partners/other/people/{foreign_item.pk}/",
        f"/partners/acme/people/{foreign_item.pk}/",
        "/partners/other/requests/new/",
        "/partners/other/requests/check/?row=0&rows-0-email=x@other.example",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.get("/review/").status_code == 403


def test_another_partners_invites_cannot_be_resent_or_revoked(client, msp, other, manager):
    foreign_invite = Invite.objects.create(
        partner=other, email="olga@other.example", display_email="olga@other.example",
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    client.force_login(manager)  # manages acme, not other
    for action in ("resend", "revoke"):
        assert client.post(f"/partners/other/invites/{foreign_invite.pk}/{action}/").status_code == 404
        assert client.post(f"/partners/acme/invites/{foreign_invite.pk}/{action}/").status_code == 404
    assert Invite.objects.get(pk=foreign_invite.pk).state == InviteState.PENDING


def test_an_account_manager_cannot_decide_items_of_partners_they_do_not_manage(client, msp, other, manager):
    foreign_admin = PartnerAdminFactory(partner=other)
    foreign_item = submitted(other, foreign_admin, rows=[("Olga", "olga@other.example")]).items.get()
    client.force_login(manager)
    client.post("/review/decide/", {"item": [foreign_item.pk], "decision": "approve"})
    assert RequestItem.objects.get(pk=foreign_item.pk).state == ItemState.SUBMITTED


def test_partner_staff_who_are_not_admins_cannot_submit(client, msp):
    client.force_login(UserFactory(partner=msp))
    assert client.get("/partners/acme/requests/new/").status_code == 404


# -- submitting -----------------------------------------------------------------------------------

def rows_post(*rows, **extra):
    data = {"rows-TOTAL_FORMS": str(len(rows)), "rows-INITIAL_FORMS": "0", "rows-MIN_NUM_FORMS": "0",
            "rows-MAX_NUM_FORMS": "1000", **extra}
    for i, (name, email) in enumerate(rows):
        data[f"rows-{i}-name"], data[f"rows-{i}-email"] = name, email
    return data


def test_checking_the_list_labels_every_row_and_saves_nothing(client, msp, partner_admin):
    client.force_login(partner_admin)
    response = client.post("/partners/acme/requests/new/", rows_post(
        ("Ann", "ann@acme.example"), ("Ann again", "ann.alias@acme.example"), ("Zed", "zed@acme.example"),
        ("Ann twice", "ANN@acme.example"), check="1",
    ))
    page = response.content.decode()
    assert "primary address of Ann Able" in page
    assert "alias of Ann Able: use ann@acme.example" in page
    assert "not found in the directory yet" in page
    assert "already in this list" in page
    assert not PortalUserRequest.objects.exists()


def test_the_live_check_answers_one_row(client, msp, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/partners/acme/requests/check/", {"row": 1, "rows-0-email": "bob@acme.example",
                                                             "rows-1-email": "ann.alias@acme.example"})
    assert "alias of Ann Able: use ann@acme.example" in response.content.decode()
    assert 'data-use="ann@acme.example"' in response.content.decode()


def test_a_partner_admin_submits_a_list_and_the_account_manager_is_told(
    client, msp, partner_admin, manager, django_capture_on_commit_callbacks
):
    client.force_login(partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/partners/acme/requests/new/", rows_post(
            ("Ann", "ann@acme.example"), ("Bob", "bob@acme.example"), submit="1",
        ))
    portal_request = PortalUserRequest.objects.get()
    assert response["Location"] == f"/partners/acme/requests/{portal_request.pk}/"
    assert portal_request.items.count() == 2
    assert [m.to for m in mail.outbox] == [[manager.display_email]]


def test_a_csv_with_a_bad_row_is_rejected_whole_with_its_row_number(client, msp, partner_admin):
    client.force_login(partner_admin)
    upload = SimpleUploadedFile("people.csv", b"name,email\nAnn,ann@acme.example\nBroken,not-an-address\n")
    response = client.post("/partners/acme/requests/new/", {"csv-file": upload})
    assert "row 3: &#x27;not-an-address&#x27; is not an email address" in response.content.decode()
    assert not PortalUserRequest.objects.exists()


def test_an_account_manager_enters_a_list_on_the_partners_behalf(client, msp, manager):
    client.force_login(manager)
    upload = SimpleUploadedFile("people.csv", b"email,name\nbob@acme.example,Bob\n")
    client.post("/partners/acme/requests/new/", {"csv-file": upload, "csv-received_from": "boss@acme.example"})
    portal_request = PortalUserRequest.objects.get()
    assert (portal_request.source, portal_request.received_from) == ("on_behalf", "boss@acme.example")


def test_without_a_current_agreement_nothing_can_be_requested(client, partner_admin, msp):
    msp.agreements.update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    client.force_login(partner_admin)
    page = client.get("/partners/acme/").content.decode()
    assert "No signed, current partner agreement" in page
    response = client.post("/partners/acme/requests/new/", rows_post(("Ann", "ann@acme.example"), submit="1"))
    assert "no signed, current partner agreement" in response.content.decode()
    assert not PortalUserRequest.objects.exists()


# -- reviewing ------------------------------------------------------------------------------------

def test_the_queue_shows_only_the_managers_partners(client, msp, other, manager, partner_admin):
    submitted(msp, partner_admin)
    submitted(other, PartnerAdminFactory(partner=other), rows=[("Olga", "olga@other.example")])
    client.force_login(manager)
    page = client.get("/review/").content.decode()
    assert "ann@acme.example" in page and "olga@other.example" not in page


def test_approving_an_msp_primary_address_sends_the_invite(
    client, msp, manager, partner_admin, django_capture_on_commit_callbacks
):
    item = submitted(msp, partner_admin).items.get()
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/review/decide/", {"item": [item.pk], "decision": "approve"})
    item.refresh_from_db()
    assert item.state == ItemState.INVITED
    invite_mail = next(m for m in mail.outbox if m.to == ["ann@acme.example"])
    assert len(mailed_code(invite_mail.body)) >= 20


def test_rejecting_needs_a_reason_and_the_requester_sees_it(
    client, msp, manager, partner_admin, django_capture_on_commit_callbacks
):
    item = submitted(msp, partner_admin).items.get()
    client.force_login(manager)
    response = client.post("/review/decide/", {"item": [item.pk], "decision": "reject"}, follow=True)
    assert "Say why the request is rejected" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/review/decide/", {"item": [item.pk], "decision": "reject", "reason": "Not a staff member"})
    item.refresh_from_db()
    assert (item.state, item.rejection_reason) == (ItemState.REJECTED, "Not a staff member")
    client.force_login(partner_admin)
    assert "Not a staff member" in client.get(f"/partners/acme/requests/{item.request_id}/").content.decode()
    assert any("Not a staff member" in m.body for m in mail.outbox if m.to == [partner_admin.display_email])


def test_the_timeline_follows_a_person_from_request_to_invitation(
    client, msp, manager, partner_admin, django_capture_on_commit_callbacks
):
    item = submitted(msp, partner_admin).items.get()
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=manager)
    client.force_login(partner_admin)
    steps = re.findall(r"<strong>([^<]+)</strong>", client.get(f"/partners/acme/people/{item.pk}/").content.decode())
    assert steps == ["Requested", "Approved", "Found in the directory", "Invited"]


def test_the_partner_list_shows_each_funnel_in_few_queries(client, manager, django_assert_max_num_queries):
    for n in range(6):
        partner = PartnerFactory(account_manager=manager, kind=PartnerKind.RESELLER if n % 2 else PartnerKind.MSP)
        AgreementFactory(partner=partner)
    client.force_login(manager)
    with django_assert_max_num_queries(25):
        page = client.get("/partners/").content.decode()
    assert page.count('class="funnel"') == 6


# -- invites and acceptance -----------------------------------------------------------------------

@pytest.fixture
def invited(msp, manager, partner_admin, django_capture_on_commit_callbacks):
    """An approved MSP request whose invite went out; returns (item, the code in its link)."""
    item = submitted(msp, partner_admin).items.get()
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=item, actor=manager)
    body = next(m for m in mail.outbox if m.to == ["ann@acme.example"]).body
    return item, mailed_code(body)


def test_opening_an_invite_link_consumes_nothing(client, invited):
    item, code = invited
    for _ in range(3):  # a mail gateway's scanner, then the person
        assert invite_open(client, code).status_code == 200
    assert Invite.objects.get(item=item).state == InviteState.SENT


def test_accepting_with_a_new_password_activates_and_signs_in(client, invited):
    item, code = invited
    response = client.post(opened(client, code), {"password": "a-long-enough-phrase-7",
                                                  "password2": "a-long-enough-phrase-7"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.state == ItemState.ACCEPTED and item.user.is_active
    assert client.session["_auth_user_id"] == str(item.user_id)
    assert invite_open(client, code).status_code == 404  # single use


def test_a_weak_password_is_refused_and_nothing_changes(client, invited):
    item, code = invited
    response = client.post(opened(client, code), {"password": "short", "password2": "short"})
    assert "too short" in response.content.decode()
    assert Invite.objects.get(item=item).state == InviteState.SENT


def test_an_expired_link_offers_to_ask_for_a_new_invite(client, invited, manager, django_capture_on_commit_callbacks):
    item, code = invited
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        response = invite_open(client, code)
        assert response.status_code == 410
        assert "Ask for a new invitation" in response.content.decode()
        assert code not in response.content.decode()  # the renewal form posts to a token-free address
        with django_capture_on_commit_callbacks(execute=True):
            client.post(RENEW)
    assert Invite.objects.get(item=item).renewal_requested_at is not None
    assert any("asks for a new portal invitation" in m.subject for m in mail.outbox if m.to == [manager.display_email])


def test_resending_kills_the_old_link(client, invited, manager, django_capture_on_commit_callbacks):
    item, old_code = invited
    client.force_login(manager)
    invite = Invite.objects.get(item=item)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/partners/acme/invites/{invite.pk}/resend/")
    client.logout()
    assert invite_open(client, old_code).status_code == 404
    new_mail = [m for m in mail.outbox if m.to == ["ann@acme.example"]][-1]
    new_code = mailed_code(new_mail.body)
    assert new_code != old_code and invite_open(client, new_code).status_code == 200


def test_the_live_check_says_nothing_about_other_partners_people(client, msp, other, partner_admin):
    UserFactory(partner=other, display_email="olga@other.example")
    client.force_login(partner_admin)
    answer = client.get("/partners/acme/requests/check/", {"row": 0, "rows-0-email": "olga@other.example"})
    assert "portal access" not in answer.content.decode()
    assert client.get("/partners/acme/requests/check/", {"row": 100_000_000}).status_code == 404


def test_one_invitation_serving_two_lists_settles_both(client, msp, manager, partner_admin,
                                                       django_capture_on_commit_callbacks):
    first = submitted(msp, partner_admin).items.get()
    second = submitted(msp, partner_admin).items.get()
    with django_capture_on_commit_callbacks(execute=True):
        request_item_approve(item=first, actor=manager)
        request_item_approve(item=second, actor=manager)
    assert RequestItem.objects.get(pk=second.pk).state == ItemState.INVITED
    body = next(m.body for m in mail.outbox if m.to == ["ann@acme.example"])
    client.post(opened(client, mailed_code(body)),
                {"password": "a-long-enough-phrase-7", "password2": "a-long-enough-phrase-7"})
    assert set(RequestItem.objects.values_list("state", flat=True)) == {ItemState.ACCEPTED}


def test_a_lapsed_agreement_stops_resending(client, invited, manager, msp):
    item, _ = invited
    msp.agreements.update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    client.force_login(manager)
    invite = Invite.objects.get(item=item)
    response = client.post(f"/partners/acme/invites/{invite.pk}/resend/", follow=True)
    assert "no signed, current partner agreement" in response.content.decode()
    assert Invite.objects.get(pk=invite.pk).state == InviteState.SENT
