"""Lists at a real vendor's size: checking, submitting and deciding a list take a fixed number of queries (asserted
equal at two sizes, not under a cap), approving everything that matches posts one field, and the set-wise approval
keeps every rule of the one-at-a-time one."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.models import AuditEvent, OutboundMail
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import NOTHING_CHOSEN, WRONG_STATE
from onboarding.models import Invite, InviteKind, InviteState, ItemState, PortalUserRequest, RequestItem
from onboarding.services.checks import rows_check
from onboarding.services.requests import MAX_ROWS, request_submit
from onboarding.services.review import held_items_recheck, request_items_approve, request_items_reject
from onboarding.views.review import MORE_TO_DECIDE
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.onboarding.factories import InviteFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

SMALL, LARGE = 10, 100
KINDS = ("primary", "alias", "not found", "disabled", "invited elsewhere")


@pytest.fixture
def manager():
    return AccountManagerFactory()


def msp_of(manager, size: int, slug: str | None = None):
    """An MSP whose directory holds `size` people (p<i>, with the alias a<i>; every fifth from the fourth disabled)."""
    slug = slug or f"msp{size}"
    partner = PartnerFactory(slug=slug, name=f"MSP {slug}", kind=PartnerKind.MSP, account_manager=manager)
    AgreementFactory(partner=partner)
    lines = ["name,primary,aliases,forwarding,enabled\n"]
    lines += [f"Person {i},p{i}@{slug}.example,a{i}@{slug}.example,,{'no' if i % 5 == 3 else 'yes'}\n"
              for i in range(size)]
    directory = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=directory, data="".join(lines).encode())
    return partner


def rows_of(partner, size: int) -> list[tuple[str, str]]:
    """`size` people, each kind of KINDS in turn (the same mix at every size)."""
    slug = partner.slug
    address = {0: "p{i}", 1: "a{i}", 2: "new{i}", 3: "p{i}", 4: "p{i}"}
    return [(f"Person {i}", address[i % 5].format(i=i) + f"@{slug}.example") for i in range(size)]


def invited_elsewhere(partner, rows) -> None:
    """The "invited elsewhere" people of `rows` have an open invitation already (from another list)."""
    for i, (name, email) in enumerate(rows):
        if KINDS[i % 5] == "invited elsewhere":
            InviteFactory(partner=partner, display_email=email, name=name)


def queries(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured)


def submitted(partner, size: int):
    rows = rows_of(partner, size)
    return request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner), rows=rows), rows


# --- a fixed number of queries, whatever the list's length ----------------------------------------------------------


def test_checking_a_list_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        emails = [email for _, email in rows_of(partner, size)]
        counts.append(queries(lambda p=partner, e=emails: rows_check(partner=p, emails=e)))
    assert counts[0] == counts[1]


def test_submitting_a_list_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        actor = PartnerAdminFactory(partner=partner)
        rows = rows_of(partner, size)
        counts.append(queries(lambda p=partner, a=actor, r=rows: request_submit(partner=p, actor=a, rows=r)))
        assert RequestItem.objects.filter(partner=partner).count() == size
        assert AuditEvent.objects.filter(action="request.item_submitted", partner_id=partner.pk).count() == size
    assert counts[0] == counts[1]


def test_approving_a_list_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        portal_request, rows = submitted(partner, size)
        invited_elsewhere(partner, rows)
        ids = list(portal_request.items.values_list("pk", flat=True))
        counts.append(queries(lambda i=ids: request_items_approve(item_ids=i, actor=manager)))
        assert not portal_request.items.filter(state=ItemState.SUBMITTED).exists()
    assert counts[0] == counts[1]


def test_approving_a_resellers_list_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = PartnerFactory(slug=f"resell{size}", kind=PartnerKind.RESELLER, account_manager=manager)
        AgreementFactory(partner=partner)
        portal_request, _ = submitted(partner, size)
        ids = list(portal_request.items.values_list("pk", flat=True))
        counts.append(queries(lambda i=ids: request_items_approve(item_ids=i, actor=manager)))
        assert set(portal_request.items.values_list("state", flat=True)) == {ItemState.ACCOUNT_CREATED}
    assert counts[0] == counts[1]


def test_rejecting_a_list_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        portal_request, _ = submitted(msp_of(manager, size), size)
        ids = list(portal_request.items.values_list("pk", flat=True))
        counts.append(queries(lambda i=ids: request_items_reject(item_ids=i, actor=manager, reason="Not staff")))
    assert counts[0] == counts[1]


def rows_post(rows, **extra) -> dict:
    data = {"rows-TOTAL_FORMS": str(len(rows)), "rows-INITIAL_FORMS": "0", "rows-MIN_NUM_FORMS": "0",
            "rows-MAX_NUM_FORMS": str(MAX_ROWS), **extra}
    for i, (name, email) in enumerate(rows):
        data[f"rows-{i}-name"], data[f"rows-{i}-email"] = name, email
    return data


@pytest.mark.parametrize("button", ["check", "submit"])
def test_the_request_form_takes_the_same_queries_at_any_length(client, manager, button):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        client.force_login(PartnerAdminFactory(partner=partner))
        data = rows_post(rows_of(partner, size), **{button: "1"})
        url = f"/partners/{partner.slug}/requests/new/"
        with CaptureQueriesContext(connection) as captured:
            response = client.post(url, data)
        assert response.status_code == (200 if button == "check" else 302)
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_the_row_check_takes_the_same_queries_however_many_rows_are_above(client, manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        client.force_login(PartnerAdminFactory(partner=partner))
        rows = rows_of(partner, size)
        data = rows_post(rows)
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/partners/{partner.slug}/requests/check/?row={size - 1}", data)
        counts.append(len(captured))
        assert "primary address of" in response.content.decode()  # the last row is a primary of each mix
    assert counts[0] == counts[1]


def test_a_full_list_posts_without_hitting_the_form_field_limit(client, manager):
    partner = msp_of(manager, 5)
    client.force_login(PartnerAdminFactory(partner=partner))
    rows = [(f"Person {i}", f"new{i}@{partner.slug}.example") for i in range(MAX_ROWS)]
    response = client.post(f"/partners/{partner.slug}/requests/new/", rows_post(rows, check="1"))
    assert response.status_code == 200
    assert response.content.decode().count("not found in the directory yet") == MAX_ROWS
    last = client.post(f"/partners/{partner.slug}/requests/check/?row={MAX_ROWS - 1}", rows_post(rows))
    assert last.status_code == 200 and "not found in the directory yet" in last.content.decode()


# --- the review page: paged, and "all that match" -------------------------------------------------------------------


def test_the_review_queue_page_takes_the_same_queries_at_any_length(client, manager):
    client.force_login(manager)
    counts = []
    for size in (SMALL, 250):
        submitted(msp_of(manager, size), size)
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/review/")
        counts.append(len(captured))
        assert response.status_code == 200
    assert counts[0] == counts[1]


def test_the_review_queue_shows_a_page_and_counts_all(client, manager):
    partner = msp_of(manager, 150)
    submitted(partner, 150)
    client.force_login(manager)
    first = client.get("/review/").content.decode()
    second = client.get("/review/?page=2").content.decode()
    assert first.count('name="item"') == 100 and second.count('name="item"') == 50
    assert "150 people wait for a decision here." in first
    assert "Approve all 150 people that match" in first
    assert "Page 2 of 2" in second


def test_the_review_queue_filters_by_list_and_directory_check(client, manager):
    partner = msp_of(manager, 10)
    first, _ = submitted(partner, 10)
    submitted(partner, 10)
    client.force_login(manager)
    one_list = client.get(f"/review/?list={first.pk}").content.decode()
    assert one_list.count('name="item"') == 10
    aliases = client.get(f"/review/?list={first.pk}&check=alias").content.decode()
    assert aliases.count('name="item"') == 2


@pytest.mark.parametrize("value", ["\u00b2", "-1", "x", "9" * 30, "\u0663"])
def test_a_filter_or_a_chosen_id_that_is_not_an_id_is_ignored(client, manager, value):
    partner = msp_of(manager, 3)
    submitted(partner, 3)
    client.force_login(manager)

    assert client.get("/review/", {"partner": value, "list": value}).status_code == 200
    response = client.post("/review/decide/", {"decision": "approve", "item": [value]})
    assert response.status_code == 302
    assert RequestItem.objects.filter(partner=partner, state=ItemState.SUBMITTED).count() == 3


def seen_up_to(client, query: str = "") -> str:
    page = client.get(f"/review/{query}").content.decode()
    return re.search(r'name="seen_up_to" value="(\d+)"', page).group(1)


def test_approving_all_that_match_takes_the_same_queries_at_any_length(client, manager):
    client.force_login(manager)
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        portal_request, rows = submitted(partner, size)
        invited_elsewhere(partner, rows)
        top = seen_up_to(client, f"?list={portal_request.pk}")
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/review/decide/", {"decision": "approve_all", "list": portal_request.pk,
                                                       "seen_up_to": top})
        counts.append(len(captured))
        assert response.status_code == 302
        assert not portal_request.items.filter(state=ItemState.SUBMITTED).exists()
    assert counts[0] == counts[1]


def test_approving_all_that_match_leaves_people_submitted_after_the_page_was_shown(client, manager):
    partner = msp_of(manager, 10)
    shown, _ = submitted(partner, 10)
    client.force_login(manager)
    top = seen_up_to(client)
    later, _ = submitted(partner, 10)  # a list that arrived while the page was open
    response = client.post("/review/decide/", {"decision": "approve_all", "seen_up_to": top}, follow=True)
    assert "10 people approved." in [str(m) for m in response.context["messages"]]
    assert not shown.items.filter(state=ItemState.SUBMITTED).exists()
    assert set(later.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_approving_all_without_the_pages_highest_id_approves_nobody(client, manager):
    portal_request, _ = submitted(msp_of(manager, 10), 10)
    client.force_login(manager)
    response = client.post("/review/decide/", {"decision": "approve_all"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [NOTHING_CHOSEN]
    assert set(portal_request.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_approving_all_that_match_keeps_to_the_filter(client, manager):
    partner = msp_of(manager, 10)
    portal_request, _ = submitted(partner, 10)
    client.force_login(manager)
    top = seen_up_to(client, "?check=primary")
    client.post("/review/decide/", {"decision": "approve_all", "check": "primary", "seen_up_to": top})
    decided = portal_request.items.exclude(state=ItemState.SUBMITTED)
    assert set(decided.values_list("check_result", flat=True)) == {"primary"}
    assert portal_request.items.filter(state=ItemState.SUBMITTED).count() == 6  # alias, not found, disabled: two each


def test_rejecting_all_that_match_needs_a_reason_and_gives_it_to_everyone(client, manager):
    portal_request, _ = submitted(msp_of(manager, 10), 10)
    client.force_login(manager)
    top = seen_up_to(client)
    client.post("/review/decide/", {"decision": "reject_all", "seen_up_to": top})
    assert set(portal_request.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}
    client.post("/review/decide/", {"decision": "reject_all", "seen_up_to": top, "reason": "Not our staff"})
    assert set(portal_request.items.values_list("state", "rejection_reason")) == {(ItemState.REJECTED, "Not our staff")}


def test_approving_all_that_match_leaves_other_managers_partners_alone(client, manager):
    mine, _ = submitted(msp_of(manager, 10), 10)
    theirs, _ = submitted(msp_of(AccountManagerFactory(), 10, slug="theirs"), 10)
    client.force_login(manager)
    client.post("/review/decide/", {"decision": "approve_all", "seen_up_to": theirs.items.order_by("-pk")[0].pk})
    assert not mine.items.filter(state=ItemState.SUBMITTED).exists()
    assert set(theirs.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_an_item_decided_meanwhile_is_skipped_with_a_message_and_the_rest_approved(client, manager):
    partner = msp_of(manager, 10)
    portal_request, _ = submitted(partner, 10)
    items = list(portal_request.items.order_by("pk"))
    client.force_login(manager)
    # Another manager rejected the first person after this page was drawn.
    request_items_reject(item_ids=[items[0].pk], actor=AccountManagerFactory(), reason="Left the company")
    response = client.post("/review/decide/", {"decision": "approve", "item": [i.pk for i in items]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["9 people approved.",
                     f"{items[0].display_email}: {WRONG_STATE.format(state='rejected', action='approved')}"]
    assert RequestItem.objects.get(pk=items[0].pk).state == ItemState.REJECTED


# --- the set-wise approval keeps every rule -------------------------------------------------------------------------


def test_approving_an_msps_list_validates_each_person(manager, django_capture_on_commit_callbacks):
    partner = msp_of(manager, 5)
    portal_request, rows = submitted(partner, 5)
    invited_elsewhere(partner, rows)
    earlier = Invite.objects.get(partner=partner)
    ids = list(portal_request.items.order_by("pk").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        decided = request_items_approve(item_ids=ids, actor=manager)
    assert (len(decided.done), decided.refused) == (5, [])
    state = {KINDS[i]: RequestItem.objects.get(pk=pk) for i, pk in enumerate(ids)}
    assert state["primary"].state == ItemState.INVITED  # validated, then invited once its mail went out
    invite = Invite.objects.get(item=state["primary"])
    assert (invite.kind, invite.state, invite.user) == (InviteKind.INVITE, InviteState.SENT, state["primary"].user)
    assert [m.to for m in mail.outbox if m.to == ["p0@msp5.example"]] == [["p0@msp5.example"]]
    assert (state["alias"].state, state["alias"].suggested_email) == (ItemState.INVALID_ADDRESS, "p1@msp5.example")
    assert state["not found"].state == ItemState.AWAITING_VALIDATION and state["not found"].awaiting_until
    assert state["disabled"].state == ItemState.AWAITING_VALIDATION
    assert not Invite.objects.filter(email__in=["a1@msp5.example", "new2@msp5.example", "p3@msp5.example"]).exists()
    assert state["invited elsewhere"].state == ItemState.INVITED
    assert Invite.objects.filter(partner=partner, email="p4@msp5.example").get() == earlier  # shared, not a second
    assert AuditEvent.objects.get(action="request.item_invited", target_id=str(ids[4])).data == {"invite": earlier.pk}
    assert User.objects.filter(partner=partner, is_active=False).count() == 1  # only the newly invited person


def test_every_transition_of_a_list_is_audited_with_the_account_manager_as_actor(manager):
    partner = msp_of(manager, 5)
    portal_request, rows = submitted(partner, 5)
    invited_elsewhere(partner, rows)
    ids = list(portal_request.items.order_by("pk").values_list("pk", flat=True))
    request_items_approve(item_ids=ids, actor=manager)
    trails = {KINDS[i]: list(AuditEvent.objects.filter(target_type="onboarding.requestitem", target_id=str(pk))
                             .order_by("id").values_list("action", "actor_id")) for i, pk in enumerate(ids)}
    submitter = portal_request.submitted_by.pk
    expected = {
        "primary": ["request.item_approved", "request.item_validated"],
        "alias": ["request.item_approved", "request.item_invalid_address"],
        "not found": ["request.item_approved", "request.item_awaiting_validation"],
        "disabled": ["request.item_approved", "request.item_awaiting_validation"],
        "invited elsewhere": ["request.item_approved", "request.item_validated", "request.item_invited"],
    }
    assert trails == {kind: [("request.item_submitted", submitter)] + [(a, manager.pk) for a in actions]
                      for kind, actions in expected.items()}


def test_approving_a_resellers_list_creates_accounts_and_welcome_links(manager, django_capture_on_commit_callbacks):
    partner = PartnerFactory(slug="resell", name="Resell Co", kind=PartnerKind.RESELLER, account_manager=manager)
    AgreementFactory(partner=partner)
    portal_request, rows = submitted(partner, 3)
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    for item in portal_request.items.all():
        invite = Invite.objects.get(item=item)
        assert (item.state, invite.kind, invite.state, item.user) == (
            ItemState.ACCOUNT_CREATED, InviteKind.WELCOME, InviteState.SENT, invite.user)
        assert (item.user.is_active, item.user.partner, item.user.full_name) == (False, partner, item.name)
    welcomes = [m for m in mail.outbox if m.subject == "Your Partner Portal account is ready (Resell Co)"]
    assert sorted(m.to[0] for m in welcomes) == sorted(email for _, email in rows)


def test_the_same_person_twice_in_one_approval_gets_one_invite(manager, django_capture_on_commit_callbacks):
    partner = msp_of(manager, 5)
    actor = PartnerAdminFactory(partner=partner)
    lists = [request_submit(partner=partner, actor=actor, rows=[("Person 0", "P0@msp5.example")]) for _ in range(2)]
    ids = [portal_request.items.get().pk for portal_request in lists]
    with django_capture_on_commit_callbacks(execute=True):
        decided = request_items_approve(item_ids=ids, actor=manager)
    assert (len(decided.done), decided.refused) == (2, [])
    invite = Invite.objects.get(partner=partner, email="p0@msp5.example")
    assert set(RequestItem.objects.filter(pk__in=ids).values_list("state", flat=True)) == {ItemState.INVITED}
    assert invite.item_id == ids[0]
    assert len([m for m in mail.outbox if m.to == ["P0@msp5.example"]]) == 1


def test_a_person_with_an_account_elsewhere_is_refused_and_the_rest_approved(manager):
    partner = msp_of(manager, 5)
    User.objects.create_user("p0@msp5.example", None, partner=PartnerFactory())  # another partner's, active
    portal_request, _ = submitted(partner, 5)
    decided = request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    [(item, why)] = decided.refused
    assert (item.email, str(why)) == ("p0@msp5.example", "p0@msp5.example already has a portal account "
                                                         "(possibly with another partner): no invitation is possible.")
    assert RequestItem.objects.get(pk=item.pk).state == ItemState.SUBMITTED
    assert len(decided.done) == 4


def test_a_list_of_a_partner_without_an_agreement_is_refused_whole(manager):
    portal_request, _ = submitted(msp_of(manager, 5), 5)
    portal_request.partner.agreements.all().delete()
    decided = request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    assert (decided.done, len(decided.refused)) == ([], 5)
    assert set(portal_request.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}
    assert not AuditEvent.objects.filter(action="request.item_approved").exists()


# --- the requester hears once per list ------------------------------------------------------------------------------


def test_the_requester_gets_one_mail_per_decided_list_with_each_persons_outcome(
    manager, django_capture_on_commit_callbacks
):
    partner = msp_of(manager, 10)
    portal_request, rows = submitted(partner, 10)
    invited_elsewhere(partner, rows)
    OutboundMail.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
    requester = portal_request.submitted_by.display_email
    [notice] = OutboundMail.objects.filter(to=requester)
    assert notice.subject == f"Your portal request list for {partner}: 10 people decided"
    body = notice.body
    assert "10 people on your list of" in body and "were decided" in body
    assert "\nInvited (4)\n" in body
    assert "their invitation already open serves this list too" in body
    assert "\nWaiting for the directory (4)\n" in body
    assert "\nInvalid address (2)\n" in body
    assert "a1@msp10.example>: an alias of p1@msp10.example: use p1@msp10.example" in body
    assert "approved" not in body
    # Every person is named, once.
    for item in portal_request.items.all():
        assert body.count(f"<{item.display_email}>") == 1
    assert f"/partners/{partner.slug}/requests/{portal_request.pk}/" in body


def test_a_rejected_list_tells_the_requester_once_with_the_reason(manager, django_capture_on_commit_callbacks):
    portal_request, _ = submitted(msp_of(manager, 10), 10)
    OutboundMail.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        request_items_reject(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager,
                             reason="Not our staff")
    [notice] = OutboundMail.objects.all()
    assert "10 people on your list of" in notice.body and "\nRejected (10)\n" in notice.body
    assert notice.body.count(": reason: Not our staff") == 10


def test_one_person_decided_on_a_list_is_still_named_in_the_mail(manager, django_capture_on_commit_callbacks):
    portal_request, _ = submitted(msp_of(manager, 5), 5)
    OutboundMail.objects.all().delete()
    first = portal_request.items.order_by("pk").first()
    with django_capture_on_commit_callbacks(execute=True):
        request_items_approve(item_ids=[first.pk], actor=manager)
    [notice] = OutboundMail.objects.all()
    assert notice.subject == f"Portal request for {first.display_email}: invited"
    assert "4 more people on this list still wait for a decision." in notice.body


def test_a_list_decided_together_with_another_tells_each_requester_once(manager):
    partner = msp_of(manager, 5)
    lists = [submitted(partner, 5)[0] for _ in range(2)]
    OutboundMail.objects.all().delete()
    ids = [pk for portal_request in lists for pk in portal_request.items.values_list("pk", flat=True)]
    request_items_reject(item_ids=ids, actor=manager, reason="Duplicate lists")
    assert sorted(OutboundMail.objects.values_list("to", flat=True)) == sorted(
        portal_request.submitted_by.display_email for portal_request in lists)
    assert PortalUserRequest.objects.count() == 2


def test_approving_all_that_match_takes_the_oldest_at_most_a_lists_worth_at_once(client, manager, monkeypatch):
    monkeypatch.setattr("onboarding.views.review.DECIDED_AT_ONCE", 4)
    older, _ = submitted(msp_of(manager, 5), 5)
    newer, _ = submitted(msp_of(manager, 5, slug="newer"), 5)
    client.force_login(manager)
    response = client.post("/review/decide/", {"decision": "approve_all", "seen_up_to": seen_up_to(client)},
                           follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown[0] == MORE_TO_DECIDE.format(count=4)
    assert "4 people approved." in shown
    assert older.items.filter(state=ItemState.SUBMITTED).count() == 1
    assert newer.items.filter(state=ItemState.SUBMITTED).count() == 5


def test_one_approval_across_partners_keeps_their_invitations_apart(manager):
    first, second = msp_of(manager, 5, slug="first"), msp_of(manager, 5, slug="second")
    # The second partner holds an open invitation of an address the first one asks for (from before a domain moved).
    InviteFactory(partner=second, display_email="p0@first.example")
    lists = [submitted(first, 5)[0], submitted(second, 5)[0]]
    ids = [pk for portal_request in lists for pk in portal_request.items.values_list("pk", flat=True)]
    decided = request_items_approve(item_ids=ids, actor=manager)
    assert (len(decided.done), decided.refused) == (10, [])
    first_item = lists[0].items.get(email="p0@first.example")
    assert Invite.objects.get(partner=first, email="p0@first.example").item == first_item
    assert AuditEvent.objects.filter(target_id=str(first_item.pk), action="request.item_invited").exists() is False


def test_releasing_held_people_after_a_sync_takes_the_same_queries_at_any_length(manager):
    counts = []
    for size in (SMALL, LARGE):
        partner = msp_of(manager, size)
        rows = [(f"Later {i}", f"later{i}@{partner.slug}.example") for i in range(size)]
        portal_request = request_submit(partner=partner, actor=PartnerAdminFactory(partner=partner), rows=rows)
        request_items_approve(item_ids=portal_request.items.values_list("pk", flat=True), actor=manager)
        assert set(portal_request.items.values_list("state", flat=True)) == {ItemState.AWAITING_VALIDATION}
        # They appear in the directory: half with the address asked for as their primary, half as an alias.
        slug = partner.slug
        lines = ["name,primary,aliases,forwarding,enabled\n"]
        lines += [f"Person {i},p{i}@{slug}.example,a{i}@{slug}.example,,{'no' if i % 5 == 3 else 'yes'}\n"
                  for i in range(size)]  # the people there already: a sync that removed them all would be braked
        lines += [f"Later {i},later{i}@{slug}.example,,,yes\n" if i % 2 else
                  f"Later {i},l{i}@{slug}.example,later{i}@{slug}.example,,yes\n" for i in range(size)]
        directory_csv_import(connection=DirectoryConnection.objects.get(partner=partner), data="".join(lines).encode())
        counts.append(queries(lambda p=partner: held_items_recheck(partner_id=p.pk)))
        assert portal_request.items.filter(state=ItemState.VALIDATED).count() == size // 2
        assert portal_request.items.filter(state=ItemState.INVALID_ADDRESS).count() == size // 2
    assert counts[0] == counts[1]
