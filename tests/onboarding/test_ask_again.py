"""Asking again for a person whose request ended without access: the primary instead of an alias, after an
expired wait, after a rejection (issue 12, point 3)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import (
    ALREADY_ASKED_AGAIN,
    ALREADY_REQUESTED,
    ASK_AGAIN_STATE,
    HAS_ACCESS,
    OnboardingError,
)
from onboarding.models import Invite, ItemState, RequestItem
from onboarding.services.asking_again import request_item_ask_again
from onboarding.services.requests import request_submit
from onboarding.services.review import held_items_expire, request_item_approve, request_item_reject
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.concurrency import Connection, hold_open, wait_until_waiting_for_a_lock
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

DIRECTORY = "name,primary,aliases,forwarding,enabled\nAnn Able,ann@acme.example,ann.alias@acme.example,,yes\n"


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def directory(msp):
    return DirectoryConnection.objects.create(partner=msp, kind=SourceKind.CSV)


@pytest.fixture
def msp(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", kind=PartnerKind.MSP, account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture(autouse=True)
def _people(directory):
    directory_csv_import(connection=directory, data=DIRECTORY.encode())


@pytest.fixture
def admin(msp):
    return PartnerAdminFactory(partner=msp)


def requested(partner, actor, email: str, name: str = "Ann Able") -> RequestItem:
    return request_submit(partner=partner, actor=actor, rows=[(name, email)]).items.get()


@pytest.fixture
def invalid_address(msp, admin, manager, django_capture_on_commit_callbacks):
    item = requested(msp, admin, "ann.alias@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        item = request_item_approve(item=item, actor=manager)
    assert (item.state, item.suggested_email) == (ItemState.INVALID_ADDRESS, "ann@acme.example")
    return item


@pytest.fixture
def expired(msp, admin, manager):
    item = requested(msp, admin, "Nina.New@acme.example", name="Nina New")
    item = request_item_approve(item=item, actor=manager)
    assert item.state == ItemState.AWAITING_VALIDATION
    held_items_expire(now=timezone.now() + datetime.timedelta(days=365))
    item.refresh_from_db()
    assert item.state == ItemState.EXPIRED
    return item


@pytest.fixture
def rejected(msp, admin, manager):
    item = requested(msp, admin, "ann@acme.example")
    item = request_item_reject(item=item, actor=manager, reason="Not on our list of engineers")
    assert item.state == ItemState.REJECTED
    return item


def approved_into_invite(follow_up, manager, capture) -> RequestItem:
    with capture(execute=True):
        follow_up = request_item_approve(item=follow_up, actor=manager)
    follow_up.refresh_from_db()
    return follow_up


def url(item) -> str:
    return f"/partners/{item.partner.slug}/people/{item.pk}/ask-again/"


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# -- the three cases -------------------------------------------------------------------------------


def test_an_alias_is_requested_again_as_its_primary_and_invited_once_approved(
    invalid_address, admin, manager, django_capture_on_commit_callbacks,
):
    follow_up = request_item_ask_again(item=invalid_address, actor=admin)
    assert (follow_up.email, follow_up.state, follow_up.replaces) == (
        "ann@acme.example", ItemState.SUBMITTED, invalid_address)
    assert (follow_up.check_result, follow_up.request.submitted_by) == ("primary", admin)
    follow_up = approved_into_invite(follow_up, manager, django_capture_on_commit_callbacks)
    assert follow_up.state == ItemState.INVITED
    assert Invite.objects.get(item=follow_up).email == "ann@acme.example"
    assert ["ann@acme.example"] in [m.to for m in mail.outbox]


def test_an_expired_wait_is_asked_again_for_the_same_address_and_invited_once_in_the_directory(
    expired, admin, manager, directory, django_capture_on_commit_callbacks,
):
    follow_up = request_item_ask_again(item=expired, actor=admin)
    assert (follow_up.display_email, follow_up.state, follow_up.replaces) == (
        "Nina.New@acme.example", ItemState.SUBMITTED, expired)
    directory_csv_import(connection=directory, data=(DIRECTORY + "Nina New,nina.new@acme.example,,,yes\n").encode())
    assert approved_into_invite(follow_up, manager, django_capture_on_commit_callbacks).state == ItemState.INVITED


def test_a_rejection_is_requested_again_with_a_note_and_invited_once_approved(
    rejected, admin, manager, django_capture_on_commit_callbacks,
):
    follow_up = request_item_ask_again(item=rejected, actor=admin, note="Ann joined the support team in May")
    assert (follow_up.email, follow_up.state, follow_up.replaces) == ("ann@acme.example", ItemState.SUBMITTED, rejected)
    assert follow_up.request.note == "Ann joined the support team in May"
    assert approved_into_invite(follow_up, manager, django_capture_on_commit_callbacks).state == ItemState.INVITED


def test_a_rejection_is_requested_again_without_a_note(rejected, admin):
    assert request_item_ask_again(item=rejected, actor=admin).request.note == ""


def test_the_follow_up_goes_to_the_account_managers_queue_and_mail(
    client, rejected, admin, manager, django_capture_on_commit_callbacks,
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        follow_up = request_item_ask_again(item=rejected, actor=admin)
    assert [m.to for m in mail.outbox] == [[manager.display_email]]
    assert f"list={follow_up.request_id}" in mail.outbox[0].body
    client.force_login(manager)
    assert f'value="{follow_up.pk}"' in client.get("/review/").content.decode()


def test_asking_again_is_audited_on_both_items(invalid_address, admin):
    follow_up = request_item_ask_again(item=invalid_address, actor=admin)
    asked = AuditEvent.objects.get(action="request.item_asked_again", target_id=str(invalid_address.pk))
    assert (asked.actor, asked.data["follow_up"], asked.data["asked_as"]) == (admin, follow_up.pk, "ann@acme.example")
    linked = AuditEvent.objects.get(action="request.item_follow_up", target_id=str(follow_up.pk))
    assert (linked.actor, linked.data["replaces"]) == (admin, invalid_address.pk)
    assert AuditEvent.objects.filter(action="request.item_submitted", target_id=str(follow_up.pk)).exists()


def test_the_account_manager_asks_again_on_the_partners_behalf(rejected, manager):
    follow_up = request_item_ask_again(item=rejected, actor=manager)
    assert (follow_up.replaces, follow_up.request.submitted_by) == (rejected, manager)


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [ItemState.SUBMITTED, ItemState.INVITED])
def test_a_person_on_the_way_cannot_be_asked_again(msp, admin, state):
    item = requested(msp, admin, "ann@acme.example")
    RequestItem.objects.filter(pk=item.pk).update(state=state, decided_at=timezone.now())
    with pytest.raises(OnboardingError) as refused:
        request_item_ask_again(item=item, actor=admin)
    assert str(refused.value) == ASK_AGAIN_STATE.format(state=ItemState(state).label.lower())
    assert not RequestItem.objects.filter(replaces=item).exists()


def test_asking_twice_makes_one_follow_up(rejected, admin):
    follow_up = request_item_ask_again(item=rejected, actor=admin)
    with pytest.raises(OnboardingError) as refused:
        request_item_ask_again(item=rejected, actor=admin)
    assert str(refused.value) == ALREADY_ASKED_AGAIN.format(email="ann@acme.example", request=follow_up.request_id)
    assert RequestItem.objects.filter(email="ann@acme.example").count() == 2  # the rejected one and its follow-up


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_the_same_moment_make_one_follow_up(rejected, admin):
    holder, release = hold_open(lambda: request_item_ask_again(item=rejected, actor=admin))
    racer = Connection(lambda: request_item_ask_again(item=rejected, actor=admin))
    racer.start()
    try:
        wait_until_waiting_for_a_lock()  # the second waits on the first's lock of the item
    finally:
        release.set()
        follow_up = holder.join_or_fail()
    with pytest.raises(OnboardingError) as refused:
        racer.join_or_fail()
    assert str(refused.value) == ALREADY_ASKED_AGAIN.format(email="ann@acme.example", request=follow_up.request_id)
    assert list(RequestItem.objects.filter(replaces=rejected)) == [follow_up]


def test_a_person_requested_by_another_open_list_is_not_asked_again(rejected, msp, admin):
    other = requested(msp, admin, "Ann@acme.example")
    with pytest.raises(OnboardingError) as refused:
        request_item_ask_again(item=rejected, actor=admin)
    assert str(refused.value) == ALREADY_REQUESTED.format(email="Ann@acme.example", partner=msp,
                                                          request=other.request_id)


def test_a_person_who_has_access_is_not_asked_again_and_nothing_is_left_behind(rejected, msp, admin):
    UserFactory(partner=msp, display_email="ann@acme.example")
    lists = msp.requests.count()
    with pytest.raises(OnboardingError) as refused:
        request_item_ask_again(item=rejected, actor=admin)
    assert str(refused.value) == HAS_ACCESS.format(email="ann@acme.example")
    assert RequestItem.objects.filter(email="ann@acme.example").count() == 1
    assert msp.requests.count() == lists  # the list of one made on the way was rolled back


# -- the pages --------------------------------------------------------------------------------------


def test_the_partner_page_and_timeline_offer_the_buttons(client, invalid_address, expired, rejected, admin):
    client.force_login(admin)
    page = client.get("/partners/acme/").content.decode()
    assert "Request ann@acme.example instead" in page
    assert "Ask again" in page and "Request again" in page
    assert url(invalid_address) in page and url(expired) in page and url(rejected) in page
    timeline = client.get(f"/partners/acme/people/{rejected.pk}/").content.decode()
    assert url(rejected) in timeline and 'name="note"' in timeline


def test_a_click_asks_again_with_a_message_and_leads_back(client, rejected, admin):
    client.force_login(admin)
    back = f"/partners/acme/people/{rejected.pk}/"
    response = client.post(url(rejected), {"note": "Joined support", "next": back})
    assert response.status_code == 302 and response.url == back
    follow_up = RequestItem.objects.get(replaces=rejected)
    assert follow_up.request.note == "Joined support"
    assert any("ann@acme.example" in text for text in texts(response))
    timeline = client.get(back).content.decode()
    assert "Asked again as" in timeline


def test_a_double_post_makes_one_follow_up(client, invalid_address, admin):
    client.force_login(admin)
    client.post(url(invalid_address))
    response = client.post(url(invalid_address))
    assert response.status_code == 302 and response.url == "/partners/acme/"
    follow_up = RequestItem.objects.get(replaces=invalid_address)
    assert ALREADY_ASKED_AGAIN.format(email="ann@acme.example", request=follow_up.request_id) in texts(response)


def test_an_item_not_allowed_is_refused_with_a_message(client, msp, admin):
    item = requested(msp, admin, "ann@acme.example")
    client.force_login(admin)
    response = client.post(url(item))
    assert response.status_code == 302
    assert ASK_AGAIN_STATE.format(state="submitted") in texts(response)
    assert not RequestItem.objects.filter(replaces=item).exists()


def test_partner_staff_cannot_ask_again(client, rejected, msp):
    client.force_login(UserFactory(partner=msp))
    assert client.post(url(rejected)).status_code == 404
    assert "Request again" not in client.get("/partners/acme/").content.decode()
    assert not RequestItem.objects.filter(replaces=rejected).exists()


def test_another_partners_item_is_not_found(client, rejected):
    other = PartnerFactory(slug="other", name="Other Ltd")
    AgreementFactory(partner=other)
    client.force_login(PartnerAdminFactory(partner=other))
    assert client.post(url(rejected)).status_code == 404
    assert client.post(f"/partners/other/people/{rejected.pk}/ask-again/").status_code == 404
    assert not RequestItem.objects.filter(replaces=rejected).exists()


def test_asking_again_needs_a_post(client, rejected, admin):
    client.force_login(admin)
    assert client.get(url(rejected)).status_code == 405


def test_an_item_asked_for_again_says_so_instead_of_offering_it_again(client, invalid_address, admin):
    client.force_login(admin)
    client.post(url(invalid_address))
    page = client.get("/partners/acme/").content.decode()
    assert "Asked for again as ann@acme.example." in page
    assert url(invalid_address) not in page  # no second button for it
    timeline = client.get(f"/partners/acme/people/{invalid_address.pk}/").content.decode()
    assert "Asked for again as ann@acme.example." in timeline and url(invalid_address) not in timeline
