"""Addresses of another partner's account domain (or of the vendor's) are refused at submission, by form, CSV,
on the partner's behalf and in the live row check, without naming that partner; a domain added later flags the
open requests already made for it, for their account manager."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent, OutboundMail
from onboarding.errors import DOMAIN_OF_ANOTHER_PARTNER, DOMAIN_OF_VENDOR, ListInvalid
from onboarding.models import CheckResult, ItemState, PortalUserRequest, RequestItem
from onboarding.services.requests import request_submit, rows_from_csv
from partners.models import AccountDomain
from tests.accounts.factories import AccountManagerFactory, PartnerAdminFactory
from tests.onboarding.factories import RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    """Northwind, whose account's domain is northwind.example."""
    partner = PartnerFactory(slug="northwind", name="Northwind Traders")
    AgreementFactory(partner=partner)
    AccountDomain.objects.create(partner=partner, domain="northwind.example")
    return partner


@pytest.fixture
def asker():
    """Acme, another partner, with its account manager and its own domain."""
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=AccountManagerFactory(full_name="Max Am"))
    AgreementFactory(partner=partner)
    AccountDomain.objects.create(partner=partner, domain="acme.example")
    return partner


@pytest.fixture
def admin_of_asker(client, asker):
    admin = PartnerAdminFactory(partner=asker)
    client.force_login(admin)
    return admin


def form_rows(*rows: tuple[str, str]) -> dict:
    data = {"rows-TOTAL_FORMS": str(len(rows)), "rows-INITIAL_FORMS": "0", "rows-MIN_NUM_FORMS": "0",
            "rows-MAX_NUM_FORMS": "1000", "submit": "1"}
    for n, (name, email) in enumerate(rows):
        data |= {f"rows-{n}-name": name, f"rows-{n}-email": email}
    return data


def test_the_form_refuses_an_address_of_another_partners_domain_without_naming_it(client, owner, asker,
                                                                                   admin_of_asker):
    response = client.post("/partners/acme/requests/new/", form_rows(
        ("Ann Able", "ann@acme.example"), ("Nina North", "Nina@Northwind.example")), follow=True)
    page = response.content.decode()
    assert f"row 2: {DOMAIN_OF_ANOTHER_PARTNER.format(email='Nina@Northwind.example')}" in page.replace("&#x27;", "'")
    assert "Northwind Traders" not in page and "northwind" not in page.replace("Northwind.example", "")
    assert not PortalUserRequest.objects.exists()


def test_a_csv_names_the_files_row_of_an_address_of_another_partners_domain(client, owner, asker, admin_of_asker):
    upload = SimpleUploadedFile("people.csv", b"name,email\nAnn Able,ann@acme.example\n\nNina,nina@northwind.example\n")
    page = client.post("/partners/acme/requests/new/", {"csv-file": upload}).content.decode()
    assert f"row 4: {DOMAIN_OF_ANOTHER_PARTNER.format(email='nina@northwind.example')}" in page.replace("&#x27;", "'")
    assert not PortalUserRequest.objects.exists()


def test_a_list_entered_on_the_partners_behalf_is_refused_the_same_way(owner, asker):
    with pytest.raises(ListInvalid) as caught:
        request_submit(partner=asker, actor=asker.account_manager, rows=[("Nina", "nina@northwind.example")],
                       source="on_behalf")
    assert caught.value.problems == [(1, DOMAIN_OF_ANOTHER_PARTNER.format(email="nina@northwind.example"))]


def test_an_address_of_the_vendors_own_domain_is_refused(asker):
    # The vendor's domains are those of its staff's addresses (the account manager's: vendor.example).
    with pytest.raises(ListInvalid) as caught:
        request_submit(partner=asker, actor=PartnerAdminFactory(partner=asker), rows=[("Ann", "ann@acme.example"),
                                                                                       ("Val", "val@vendor.example")])
    assert caught.value.problems == [(2, DOMAIN_OF_VENDOR.format(email="val@vendor.example"))]


def test_vendor_email_domains_names_the_vendors_domains_when_set(asker, settings):
    settings.VENDOR_EMAIL_DOMAINS = ["Vendor-Mail.example"]
    submitter = PartnerAdminFactory(partner=asker)
    with pytest.raises(ListInvalid):
        request_submit(partner=asker, actor=submitter, rows=[("Val", "val@vendor-mail.example")])
    # Set, it replaces the staff's domains.
    assert request_submit(partner=asker, actor=submitter, rows=[("Vic", "vic@vendor.example")]).items.count() == 1


def test_the_partners_own_domain_and_unclaimed_domains_are_accepted(owner, asker):
    portal_request = request_submit(partner=owner, actor=PartnerAdminFactory(partner=owner),
                                    rows=[("Nina", "nina@northwind.example"), ("Gail", "gail@gmail.example")])
    assert portal_request.items.count() == 2


def test_rows_from_csv_checks_domains_for_a_partner(owner, asker):
    with pytest.raises(ListInvalid) as caught:
        rows_from_csv(b"name,email\nNina,nina@northwind.example\n", partner=asker)
    assert caught.value.problems == [(2, DOMAIN_OF_ANOTHER_PARTNER.format(email="nina@northwind.example"))]


def test_the_live_check_labels_an_address_of_another_partners_domain_without_naming_it(client, owner, asker,
                                                                                       admin_of_asker):
    answer = client.get("/partners/acme/requests/check/", {"row": 0, "rows-0-email": "nina@northwind.example"})
    page = answer.content.decode().replace("&#x27;", "'")
    assert DOMAIN_OF_ANOTHER_PARTNER.format(email="nina@northwind.example") in page
    assert f"check-{CheckResult.FOREIGN_DOMAIN}" in page and "Northwind Traders" not in page


# --- a domain added later ------------------------------------------------------------------------------------------


@pytest.fixture
def open_items(asker):
    """Acme's items at hooli.example: one submitted, one held, one rejected; and one at its own domain."""
    make = RequestItemFactory
    return {
        "submitted": make(request__partner=asker, display_email="Hank@Hooli.example"),
        "held": make(request__partner=asker, display_email="hera@hooli.example", state=ItemState.AWAITING_VALIDATION,
                     decided_at="2026-01-01T00:00Z", awaiting_until="2099-01-01T00:00Z"),
        "rejected": make(request__partner=asker, display_email="rex@hooli.example", state=ItemState.REJECTED,
                         decided_at="2026-01-01T00:00Z", rejection_reason="not staff"),
        "own": make(request__partner=asker, display_email="ann@acme.example"),
    }


def test_adding_a_domain_flags_other_partners_open_requests_there_and_mails_their_account_manager(
    asker, open_items, django_capture_on_commit_callbacks
):
    hooli = PartnerFactory(slug="hooli", name="Hooli Inc")
    with django_capture_on_commit_callbacks(execute=True):
        AccountDomain.objects.create(partner=hooli, domain="hooli.example")  # what the partners admin saves
    flagged = {key for key, item in open_items.items()
               if RequestItem.objects.get(pk=item.pk).check_result == CheckResult.FOREIGN_DOMAIN}
    assert flagged == {"submitted", "held"}
    assert AuditEvent.objects.filter(action="request.item_flagged").count() == 2
    [notice] = OutboundMail.objects.filter(template="request_items_flagged")
    assert notice.to == asker.account_manager.display_email and notice.partner_id == asker.pk
    assert "Hank@Hooli.example" in notice.body and "hera@hooli.example" in notice.body
    assert "rex@hooli.example" not in notice.body and "Hooli Inc" not in notice.body
    assert any(m.subject == notice.subject for m in mail.outbox)


def test_a_domain_saved_again_flags_and_mails_nothing_more(asker, open_items):
    hooli = PartnerFactory(slug="hooli")
    domain = AccountDomain.objects.create(partner=hooli, domain="hooli.example")
    domain.save()
    assert OutboundMail.objects.filter(template="request_items_flagged").count() == 1
    assert AuditEvent.objects.filter(action="request.item_flagged").count() == 2


def test_the_account_managers_review_page_shows_the_flag(client, asker, open_items):
    AccountDomain.objects.create(partner=PartnerFactory(slug="hooli"), domain="hooli.example")
    client.force_login(asker.account_manager)
    page = client.get("/review/").content.decode()
    assert str(CheckResult.FOREIGN_DOMAIN.label) in page
