"""Submitting portal-user lists (R1, R2): the agreement gate, whole-list validation of form rows and CSV
files, the live directory check that labels every row, the audit trail and the account manager's mail."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.errors import EMPTY_LIST, ListInvalid
from onboarding.models import CheckResult, PortalUserRequest, RequestItem, RequestSource
from onboarding.services.checks import row_check
from onboarding.services.requests import request_submit, rows_from_csv, rows_validate
from partners.errors import NO_AGREEMENT, AgreementMissing
from tests.accounts.factories import PartnerAdminFactory, UserFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

DIRECTORY = (
    "name,primary,aliases,forwarding,enabled\n"
    "Ada Lovelace,Ada.Lovelace@Partner.example,ada@partner.example,ada.lovelace@forward.example,yes\n"
    "Dan Disabled,dan@partner.example,,,no\n"
)


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme MSP")
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=DIRECTORY.encode())
    return partner


@pytest.fixture
def admin(partner):
    return PartnerAdminFactory(partner=partner)


def submit(partner, actor, rows, capture, **kwargs):
    """Submit a list and run what waits for the commit (the account manager's mail, sent eagerly)."""
    with capture(execute=True):
        return request_submit(partner=partner, actor=actor, rows=rows, **kwargs)


def problems_of(caught) -> list[int]:
    return [row for row, _ in caught.value.problems]


# --- the agreement gate (R1) ------------------------------------------------------------------------------------------


def test_a_partner_without_an_agreement_cannot_submit_and_nothing_is_written(django_capture_on_commit_callbacks):
    partner = PartnerFactory(name="Unsigned Ltd")
    with pytest.raises(AgreementMissing) as caught:
        submit(partner, PartnerAdminFactory(partner=partner), [("Ada", "ada@partner.example")],
               django_capture_on_commit_callbacks)
    assert str(caught.value) == NO_AGREEMENT.format(partner=partner)
    assert not PortalUserRequest.objects.exists()
    assert not RequestItem.objects.exists()
    assert mail.outbox == []


def test_a_partner_whose_agreement_has_expired_cannot_submit_and_nothing_is_written(
    django_capture_on_commit_callbacks,
):
    partner = PartnerFactory(name="Lapsed Ltd")
    AgreementFactory(partner=partner, signed_at=timezone.now() - datetime.timedelta(days=400),
                     valid_until=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(AgreementMissing) as caught:
        submit(partner, PartnerAdminFactory(partner=partner), [("Ada", "ada@partner.example")],
               django_capture_on_commit_callbacks)
    assert str(caught.value) == NO_AGREEMENT.format(partner=partner)
    assert not PortalUserRequest.objects.exists()
    assert mail.outbox == []


# --- rows_validate: a list is checked whole ---------------------------------------------------------------------------


def test_rows_validate_returns_the_rows_stripped_and_skips_blank_ones():
    rows = [(" Ada ", " Ada.Lovelace@Partner.example "), ("", ""), ("Bob", "bob@partner.example")]
    assert rows_validate(rows) == [("Ada", "Ada.Lovelace@Partner.example", "partner_staff"),
                                   ("Bob", "bob@partner.example", "partner_staff")]


def test_rows_validate_names_the_row_of_a_bad_address():
    with pytest.raises(ListInvalid) as caught:
        rows_validate([("Ada", "ada@partner.example"), ("Bob", "not-an-address")])
    assert caught.value.problems == [(2, "'not-an-address' is not an email address")]
    assert "row 2: 'not-an-address' is not an email address" in str(caught.value)


def test_rows_validate_names_the_row_of_a_missing_address():
    with pytest.raises(ListInvalid) as caught:
        rows_validate([("Ada", "ada@partner.example"), ("Bob", "")])
    assert caught.value.problems == [(2, "the email address is missing")]


def test_rows_validate_names_the_row_of_a_missing_name():
    with pytest.raises(ListInvalid) as caught:
        rows_validate([("Ada", "ada@partner.example"), ("", "bob@partner.example")])
    assert caught.value.problems == [(2, "the name is missing")]


def test_rows_validate_names_the_first_row_of_a_duplicate_whatever_its_case():
    with pytest.raises(ListInvalid) as caught:
        rows_validate([("Ada", "ada@partner.example"), ("Bob", "bob@partner.example"),
                       ("Ada L", "ADA@Partner.example")])
    assert caught.value.problems == [(3, "ADA@Partner.example is already in row 1")]


def test_rows_validate_reports_every_bad_row_at_once():
    with pytest.raises(ListInvalid) as caught:
        rows_validate([("", "a@partner.example"), ("Bob", "bob@partner.example"), ("Carl", "carl@")])
    assert problems_of(caught) == [1, 3]


@pytest.mark.parametrize("rows", [[], [("", ""), (" ", " ")]], ids=["no rows", "only blank rows"])
def test_rows_validate_refuses_an_empty_list(rows):
    with pytest.raises(ListInvalid) as caught:
        rows_validate(rows)
    assert caught.value.problems == [(1, EMPTY_LIST)]


def test_a_list_with_a_bad_row_is_refused_whole_and_nothing_is_written(
    partner, admin, django_capture_on_commit_callbacks
):
    with pytest.raises(ListInvalid):
        submit(partner, admin, [("Ada", "ada.lovelace@partner.example"), ("Bob", "bob@")],
               django_capture_on_commit_callbacks)
    assert not PortalUserRequest.objects.exists()
    assert not RequestItem.objects.exists()
    assert not AuditEvent.objects.filter(action="request.item_submitted").exists()
    assert mail.outbox == []


# --- rows_from_csv: uploads are checked whole, with the file's row numbers --------------------------------------------


def test_rows_from_csv_reads_name_and_email_in_any_column_order():
    data = "\ufeffEmail,Name\nAda.Lovelace@Partner.example,Ada Lovelace\n\nbob@partner.example,Bob\n".encode()
    assert rows_from_csv(data) == [("Ada Lovelace", "Ada.Lovelace@Partner.example", "partner_staff"),
                                   ("Bob", "bob@partner.example", "partner_staff")]


def test_a_list_says_who_becomes_a_partner_admin_and_an_unknown_role_is_refused_with_its_row():
    data = b"name,email,role\nAda,ada@partner.example,Admin\nBob,bob@partner.example,\nCy,cy@partner.example,staff\n"
    assert [role for *_, role in rows_from_csv(data)] == ["partner_admin", "partner_staff", "partner_staff"]
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(b"name,email,role\nAda,ada@partner.example,owner\n")
    assert caught.value.problems == [(2, "the role 'owner' is neither staff nor admin")]


@pytest.mark.parametrize("data", [b"", b"Ada,ada@partner.example\n", b"name,mail\nAda,ada@partner.example\n"],
                         ids=["empty file", "no header", "wrong header"])
def test_rows_from_csv_needs_a_header_naming_name_and_email(data):
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(data)
    assert caught.value.problems == [(1, "the header row must name the columns name and email")]


def test_rows_from_csv_refuses_a_file_that_is_not_utf8_naming_the_row_it_stopped_at():
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv("name,email\nZoë,zoe@partner.example\n".encode("latin-1"))
    # Read row by row, the file is refused at the first row that is not UTF-8 (Zoë's, row 2).
    assert caught.value.problems == [(2, "the file is not UTF-8 text")]


def test_rows_from_csv_names_rows_with_the_wrong_number_of_columns():
    data = b"name,email\nAda,ada@partner.example\nBob,bob@partner.example,extra\nCarl\n"
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(data)
    assert caught.value.problems == [(3, "3 columns, expected 2"), (4, "1 columns, expected 2")]


def test_rows_from_csv_reports_bad_rows_with_the_files_row_numbers():
    # Row 1 is the header; the blank row 3 is skipped but still counts.
    data = b"name,email\nAda,ada@partner.example\n\nBob,not-an-address\n,carl@partner.example\n"
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(data)
    assert caught.value.problems == [(4, "'not-an-address' is not an email address"), (5, "the name is missing")]


def test_rows_from_csv_names_the_first_row_of_a_duplicate_by_its_file_row_number():
    data = b"name,email\n\nAda,ada@partner.example\nBob,bob@partner.example\nAda again,ADA@partner.example\n"
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(data)
    # Ada is on row 3 of the file (header, blank row, Ada): the message must send people there.
    assert caught.value.problems == [(5, "ADA@partner.example is already in row 3")]


def test_a_csv_with_one_bad_row_is_refused_whole_and_nothing_is_written(
    partner, admin, django_capture_on_commit_callbacks
):
    data = b"name,email\nAda,ada.lovelace@partner.example\nBob,bob@\n"
    with pytest.raises(ListInvalid) as caught:
        submit(partner, admin, rows_from_csv(data), django_capture_on_commit_callbacks, source=RequestSource.CSV)
    assert problems_of(caught) == [3]
    assert not PortalUserRequest.objects.exists()
    assert not RequestItem.objects.exists()
    assert mail.outbox == []


# --- request_submit: items labelled by the directory check ------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "result", "suggestion"),
    [
        ("ADA.LOVELACE@partner.example", CheckResult.PRIMARY, ""),
        ("Ada@Partner.example", CheckResult.ALIAS, "ada.lovelace@partner.example"),
        ("ada.lovelace@forward.example", CheckResult.FORWARDING, "ada.lovelace@partner.example"),
        ("dan@partner.example", CheckResult.DISABLED, ""),
        ("nobody@partner.example", CheckResult.NOT_FOUND, ""),
    ],
    ids=["primary", "alias", "forwarding", "disabled", "not found"],
)
def test_each_submitted_item_is_labelled_by_the_directory_check(
    partner, admin, email, result, suggestion, django_capture_on_commit_callbacks
):
    portal_request = submit(partner, admin, [("Someone", email)], django_capture_on_commit_callbacks)
    item = portal_request.items.get()
    assert (item.check_result, item.suggested_email) == (result, suggestion)
    assert (item.display_email, item.email) == (email, email.lower())


def test_an_active_portal_user_is_labelled_as_already_having_access(
    partner, admin, django_capture_on_commit_callbacks
):
    UserFactory(partner=partner, display_email="Ada.Lovelace@Partner.example")
    portal_request = submit(partner, admin, [("Ada", "ada.lovelace@partner.example")],
                            django_capture_on_commit_callbacks)
    assert portal_request.items.get().check_result == CheckResult.HAS_ACCESS


def test_the_live_check_labels_an_address_already_in_the_list_as_a_duplicate(partner):
    check = row_check(partner=partner, email="ADA.LOVELACE@partner.example",
                      earlier=["bob@partner.example", "Ada.Lovelace@Partner.example"])
    assert check.result == CheckResult.DUPLICATE
    assert not check.is_ok


def test_the_live_check_suggests_the_primary_address_for_an_alias(partner):
    check = row_check(partner=partner, email="ada@partner.example")
    assert check.result == CheckResult.ALIAS
    assert check.suggestion == "ada.lovelace@partner.example"
    assert check.message == "alias of Ada Lovelace: use ada.lovelace@partner.example"


def test_the_live_check_marks_a_malformed_address_invalid(partner):
    assert row_check(partner=partner, email="ada@").result == "invalid"


def test_a_list_with_a_duplicate_is_refused_whole(partner, admin, django_capture_on_commit_callbacks):
    with pytest.raises(ListInvalid) as caught:
        submit(partner, admin, [("Ada", "ada.lovelace@partner.example"), ("Ada", "Ada.Lovelace@partner.example")],
               django_capture_on_commit_callbacks)
    assert caught.value.problems == [(2, "Ada.Lovelace@partner.example is already in row 1")]
    assert not RequestItem.objects.exists()


def test_submitted_items_start_submitted_with_the_request_recorded(partner, admin, django_capture_on_commit_callbacks):
    portal_request = submit(partner, admin, [("Ada", "ada.lovelace@partner.example"), ("Bob", "bob@partner.example")],
                            django_capture_on_commit_callbacks, source=RequestSource.CSV, note="Q3 hires")
    assert (portal_request.partner, portal_request.submitted_by, portal_request.source, portal_request.note) == (
        partner, admin, RequestSource.CSV, "Q3 hires")
    assert list(portal_request.items.values_list("name", "state", "partner")) == [
        ("Ada", "submitted", partner.pk), ("Bob", "submitted", partner.pk)]


def test_an_account_manager_can_enter_a_list_on_the_partners_behalf(partner, django_capture_on_commit_callbacks):
    portal_request = submit(partner, partner.account_manager, [("Ada", "ada.lovelace@partner.example")],
                            django_capture_on_commit_callbacks, source=RequestSource.ON_BEHALF,
                            received_from="boss@partner.example")
    assert (portal_request.source, portal_request.received_from, portal_request.submitted_by) == (
        RequestSource.ON_BEHALF, "boss@partner.example", partner.account_manager)


def test_every_submitted_item_gets_an_audit_event_by_the_submitter(partner, admin, django_capture_on_commit_callbacks):
    portal_request = submit(partner, admin, [("Ada", "ada.lovelace@partner.example"), ("Nobody", "no@partner.example")],
                            django_capture_on_commit_callbacks)
    events = AuditEvent.objects.filter(action="request.item_submitted").order_by("id")
    assert [(e.target_type, e.target_id) for e in events] == [
        ("onboarding.requestitem", str(item.pk)) for item in portal_request.items.order_by("id")]
    assert {(e.actor_id, e.partner_id) for e in events} == {(admin.pk, partner.pk)}
    assert [e.data["check"] for e in events] == [CheckResult.PRIMARY, CheckResult.NOT_FOUND]


def test_the_account_manager_is_mailed_about_a_new_list(partner, admin, django_capture_on_commit_callbacks):
    submit(partner, admin, [("Ada", "ada.lovelace@partner.example"), ("Bob", "bob@partner.example")],
           django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [partner.account_manager.display_email]
    assert message.subject == "New portal-user list from Acme MSP to review"
    assert "a list of 2 people" in message.body
    assert admin.display_email in message.body
