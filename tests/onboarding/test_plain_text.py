"""Names, notes and rejection reasons that reach mail refuse control characters (CR, LF, NUL, other Cc/Cf):
by form, CSV and on the partner's behalf, with a message saying why; ordinary spaces and letters are fine."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import OutboundMail
from onboarding.errors import (
    NAME_CONTROL_CHARACTERS,
    NOTE_CONTROL_CHARACTERS,
    REASON_CONTROL_CHARACTERS,
    ListInvalid,
    OnboardingError,
)
from onboarding.models import ItemState, PortalUserRequest, RequestItem
from onboarding.services.requests import request_submit, rows_validate
from onboarding.services.review import request_item_reject
from onboarding.validators import has_control_characters
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.onboarding.factories import RequestItemFactory
from tests.onboarding.test_foreign_domains import form_rows
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

INJECTED = "Ann Able\r\nBcc: everyone@evil.example"


@pytest.fixture
def partner():
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=AccountManagerFactory())
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def submitter(client, partner):
    client.force_login(PartnerAdminFactory(partner=partner))
    return client


@pytest.mark.parametrize("text", [INJECTED, "Ann\nAble", "Ann\x00Able", "Ann\tAble", "Ann\u202eelbA",
                                  "Ann\u200bAble", "Ann\u2028Able", "Ann\x85Able", "\x1b[31mAnn"])
def test_control_format_and_line_separator_characters_are_detected(text):
    assert has_control_characters(text)


@pytest.mark.parametrize("text", ["Ann Able", "Zoë O'Brien-Łukasz", "Ann\u00a0Able", "李小龍", "Ann (Finance) / HQ"])
def test_letters_punctuation_and_ordinary_spaces_are_fine(text):
    assert not has_control_characters(text)


def test_a_name_with_a_header_injection_is_refused_on_the_form_with_a_clear_message(submitter):
    response = submitter.post("/partners/acme/requests/new/", form_rows(
        ("Bob Baker", "bob@acme.example"), (INJECTED, "ann@acme.example")), follow=True)
    assert f"row 2: {NAME_CONTROL_CHARACTERS}" in response.content.decode()
    assert not PortalUserRequest.objects.exists() and not OutboundMail.objects.exists()


def test_a_csv_name_with_a_line_break_is_refused_at_its_row(submitter):
    content = b'name,email\nBob Baker,bob@acme.example\n"Ann Able\r\nBcc: everyone@evil.example",ann@acme.example\n'
    page = submitter.post("/partners/acme/requests/new/",
                          {"csv-file": SimpleUploadedFile("people.csv", content)}).content.decode()
    assert f"row 3: {NAME_CONTROL_CHARACTERS}" in page
    assert not PortalUserRequest.objects.exists()


def test_a_list_entered_on_the_partners_behalf_refuses_it_too(partner):
    with pytest.raises(ListInvalid) as caught:
        request_submit(partner=partner, actor=partner.account_manager, rows=[(INJECTED, "ann@acme.example")],
                       source="on_behalf")
    assert caught.value.problems == [(1, NAME_CONTROL_CHARACTERS)]


def test_rows_validate_keeps_ordinary_names(partner):
    assert rows_validate([("Zoë O'Brien", "zoe@acme.example")], partner=partner) == [
        ("Zoë O'Brien", "zoe@acme.example", "partner_staff")]


def test_a_note_with_a_line_break_is_refused(submitter, partner):
    data = form_rows(("Bob Baker", "bob@acme.example")) | {"note": "Please hurry\r\nBcc: x@evil.example"}
    response = submitter.post("/partners/acme/requests/new/", data, follow=True)
    assert str(NOTE_CONTROL_CHARACTERS) in response.content.decode()
    assert not PortalUserRequest.objects.exists()


def test_a_rejection_reason_with_a_line_break_is_refused_once_and_nothing_is_rejected(client, partner):
    items = [RequestItemFactory(request__partner=partner) for _ in range(2)]
    client.force_login(partner.account_manager)
    response = client.post("/review/decide/", {"item": [i.pk for i in items], "decision": "reject",
                                               "reason": "Not staff\r\nBcc: x@evil.example"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [REASON_CONTROL_CHARACTERS]
    assert set(RequestItem.objects.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_the_reject_service_refuses_such_a_reason_itself(partner):
    item = RequestItemFactory(request__partner=partner)
    with pytest.raises(OnboardingError, match="one line of text"):
        request_item_reject(item=item, actor=partner.account_manager, reason="Not\x00staff")
    item.refresh_from_db()
    assert item.state == ItemState.SUBMITTED


def test_the_admins_forms_refuse_it_through_the_models_validators(partner):
    item = RequestItemFactory(request__partner=partner, name="Ann\nAble")
    with pytest.raises(ValidationError) as caught:
        item.full_clean()
    assert set(caught.value.message_dict) == {"name"}
