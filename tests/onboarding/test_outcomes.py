"""After a decision the review page lists each person's outcome, grouped as the requester's mail groups them; every
state a page shows has its one line of what happens next and who acts."""

import html
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.explanations import INVITE_NEXT, ITEM_NEXT, invite_state_next, item_state_next
from onboarding.models import InviteState, ItemState
from onboarding.services.requests import request_submit
from onboarding.views.review import DECIDED_SESSION
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def msp(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", kind=PartnerKind.MSP, account_manager=manager)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Ann Able,ann@acme.example,ann.alias@acme.example,,yes\n"
        b"Fay Forward,fay@acme.example,,fay.fwd@acme.example,yes\n"
        b"Dan Disabled,dan@acme.example,,,no\n"
    ))
    return partner


@pytest.fixture
def reseller(manager):
    partner = PartnerFactory(slug="resell", name="Resell Co", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def msp_list(msp):
    return request_submit(partner=msp, actor=PartnerAdminFactory(partner=msp), rows=[
        ("Ann Able", "ann@acme.example"), ("Ann Alias", "ann.alias@acme.example"), ("Fay Fwd", "fay.fwd@acme.example"),
        ("Dan Disabled", "dan@acme.example"), ("Nia New", "nia@acme.example"),
    ])


def decide(client, items, capture, **form):
    """Tick `items` on the review queue and decide; the page after the redirect."""
    with capture(execute=True):  # the invitations go out (the worker's part) before the page is drawn
        response = client.post("/review/decide/", {"item": [item.pk for item in items], **form}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def outcome_of(page: str) -> str:
    found = re.search(r'<section class="card outcome".*?</section>', page, re.S)
    return found.group(0) if found else ""


def text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def group(outcome: str, heading: str) -> str:
    """The text of one group of the outcome section, from its heading to the next."""
    return re.search(rf"<h3[^>]*>{heading} \(\d+\)</h3>(.*?)(?=<h3|</section>)", outcome, re.S).group(1)


def test_approving_lists_each_person_s_outcome_with_what_happens_next(
    client, manager, msp_list, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    outcome = outcome_of(decide(client, msp_list.items.all(), django_capture_on_commit_callbacks, decision="approve"))
    assert "What your decision did" in outcome
    invited = text(group(outcome, "Invited"))
    assert "Ann Able" in invited and item_state_next(ItemState.INVITED) in invited
    # Sent by the worker before the page was drawn, yet the outcome of this decision: a new invitation.
    assert "already open" not in invited
    invalid = text(group(outcome, "Invalid address"))
    assert "an alias of ann@acme.example: use ann@acme.example" in invalid
    assert "a forwarding address of fay@acme.example: use fay@acme.example" in invalid
    assert item_state_next(ItemState.INVALID_ADDRESS) in invalid
    waiting = text(group(outcome, "Waiting for the directory"))
    assert "dan@acme.example · Acme MSP — disabled in the partner's directory; waits until" in waiting
    assert "nia@acme.example · Acme MSP — not on the partner's account yet; waits until" in waiting
    assert item_state_next(ItemState.AWAITING_VALIDATION) in waiting


def test_the_page_groups_the_people_as_the_requester_s_mail_does(
    client, manager, msp_list, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    outcome = outcome_of(decide(client, msp_list.items.all(), django_capture_on_commit_callbacks, decision="approve"))
    on_the_page = re.findall(r"<h3[^>]*>(.*?) \((\d+)\)</h3>", outcome)
    decided_mail = next(m for m in mail.outbox if m.to == [msp_list.submitted_by.display_email])
    positions = [decided_mail.body.find(heading) for heading, _ in on_the_page]
    assert -1 not in positions and positions == sorted(positions), (on_the_page, decided_mail.body)
    assert on_the_page == [("Invalid address", "2"), ("Waiting for the directory", "2"), ("Invited", "1")]


def test_a_reseller_s_account_and_a_rejection_are_outcomes_too(
    client, manager, reseller, msp_list, django_capture_on_commit_callbacks
):
    rita = request_submit(partner=reseller, actor=PartnerAdminFactory(partner=reseller),
                          rows=[("Rita Resell", "rita@resell.example")]).items.get()
    client.force_login(manager)
    outcome = outcome_of(decide(client, [rita], django_capture_on_commit_callbacks, decision="approve"))
    created = text(group(outcome, "Account created"))
    assert "Rita Resell" in created and item_state_next(ItemState.ACCOUNT_CREATED) in created
    ann = msp_list.items.get(email="ann@acme.example")
    outcome = outcome_of(decide(client, [ann], django_capture_on_commit_callbacks, decision="reject",
                                reason="Not staff"))
    rejected = text(group(outcome, "Rejected"))
    assert "Ann Able" in rejected and "reason: Not staff" in rejected
    assert item_state_next(ItemState.REJECTED) in rejected
    assert "Account created" not in outcome  # the outcome of the last decision only


def test_the_outcome_is_shown_once(client, manager, msp_list, django_capture_on_commit_callbacks):
    client.force_login(manager)
    assert outcome_of(decide(client, msp_list.items.all()[:1], django_capture_on_commit_callbacks,
                             decision="approve"))
    assert not outcome_of(client.get("/review/").content.decode())


def test_the_outcome_names_only_people_of_the_viewer_s_partners(client, manager, msp_list):
    stranger = AccountManagerFactory()
    item = msp_list.items.first()
    client.force_login(stranger)
    session = client.session
    session[DECIDED_SESSION] = [[item.pk, ItemState.REJECTED, ""]]
    session.save()
    page = client.get("/review/").content.decode()
    assert not outcome_of(page) and item.display_email not in page


def test_every_state_has_its_explanation():
    assert set(ITEM_NEXT) == set(ItemState.values)
    assert set(INVITE_NEXT) == set(InviteState.values)
    assert all(item_state_next(state) for state in ItemState.values)
    assert all(invite_state_next(state) for state in InviteState.values)


def test_the_partner_page_the_list_page_and_the_timeline_explain_each_state(
    client, manager, msp_list, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    decide(client, msp_list.items.all(), django_capture_on_commit_callbacks, decision="approve")
    partner_page = html.unescape(client.get("/partners/acme/").content.decode())
    assert str(ITEM_NEXT[ItemState.AWAITING_VALIDATION]) in partner_page
    assert str(INVITE_NEXT[InviteState.SENT]) in partner_page
    list_page = html.unescape(client.get(f"/partners/acme/requests/{msp_list.pk}/").content.decode())
    for state in (ItemState.INVITED, ItemState.INVALID_ADDRESS, ItemState.AWAITING_VALIDATION):
        assert str(ITEM_NEXT[state]) in list_page, state
    ann = msp_list.items.get(email="ann@acme.example")
    timeline = html.unescape(client.get(f"/partners/acme/people/{ann.pk}/").content.decode())
    assert str(ITEM_NEXT[ItemState.INVITED]) in timeline
    assert '<div class="hint state-next">' in timeline



def test_the_outcome_is_read_in_as_many_queries_for_many_people_as_for_few(
    client, manager, msp, reseller, django_capture_on_commit_callbacks
):
    msp_admin, reseller_admin = PartnerAdminFactory(partner=msp), PartnerAdminFactory(partner=reseller)
    client.force_login(manager)

    def queries_after_deciding(people: int, tag: str) -> int:
        items = list(request_submit(partner=msp, actor=msp_admin, rows=[
            (f"Person {n}", f"{tag}{n}@acme.example") for n in range(people)]).items.all())
        items += list(request_submit(partner=reseller, actor=reseller_admin, rows=[
            (f"Rita {n}", f"{tag}{n}@resell.example") for n in range(people)]).items.all())
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/review/decide/", {"item": [item.pk for item in items], "decision": "approve"})
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/review/").content.decode()
        assert text(outcome_of(page)).count(" · ") == 2 * len(items)  # each person: address, partner
        return len(queries)

    assert queries_after_deciding(1, "few") == queries_after_deciding(6, "many")
