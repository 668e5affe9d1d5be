"""Who has access, as CSV: the columns and statuses, cells a spreadsheet would run as formulas, who may export
which partners (404 for anyone else), the same queries for 3 people as for 30, and the audit event."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import TOTPDevice, User
from core.csvfiles import csv_safe_cell
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, DirectoryUser, DirectoryUserStatus, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import InviteState
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory, UserFactory
from tests.onboarding.factories import InviteFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = ["name", "email", "role", "status", "last sign-in (UTC)", "two-factor enrolled", "invited (UTC)",
          "accepted (UTC)"]
SENT = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
ACCEPTED = datetime.datetime(2026, 3, 3, 14, 5, 7, tzinfo=datetime.UTC)
SIGNED_IN = datetime.datetime(2026, 4, 1, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture
def manager():
    return AccountManagerFactory()


@pytest.fixture
def acme(manager):
    partner = PartnerFactory(slug="acme", name="Acme MSP", account_manager=manager)
    AgreementFactory(partner=partner)
    connection_ = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection_, data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Ann Able,ann@acme.example,ann.alias@acme.example,,yes\n"
        b"Dora Dormant,dora@acme.example,,,no\n"
        b"Rex Removed,rex@acme.example,,,yes\n"
    ))
    DirectoryUser.objects.filter(partner=partner, display_name="Rex Removed").update(
        status=DirectoryUserStatus.REMOVED)
    return partner


@pytest.fixture
def other():
    partner = PartnerFactory(slug="other", name="Other Ltd", kind=PartnerKind.RESELLER)
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def partner_admin(acme):
    """Ann: active, an authenticator app confirmed, invited and accepted."""
    ann = PartnerAdminFactory(partner=acme, display_email="Ann@acme.example", full_name="Ann Able")
    TOTPDevice.objects.create(user=ann, name="phone", confirmed=True)
    InviteFactory(partner=acme, user=ann, display_email=ann.display_email, state=InviteState.ACCEPTED,
                  sent_at=SENT, accepted_at=ACCEPTED)
    return ann


def exported(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads UTF-8 only with the byte-order mark
    return list(csv.reader(io.StringIO(body[1:])))


def by_email(rows: list[list[str]], column: int = 1) -> dict[str, list[str]]:
    return {row[column]: row for row in rows[1:]}


def test_the_export_lists_the_partners_portal_users_with_their_access(client, acme, partner_admin):
    UserFactory(partner=acme, display_email="Sam@acme.example", full_name="Sam Staff")
    client.force_login(partner_admin)
    User.objects.filter(pk=partner_admin.pk).update(last_login=SIGNED_IN)  # signing in here set it to now
    response = client.get("/partners/acme/people.csv")
    today = timezone.now().date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="acme-portal-users-{today}.csv"'
    rows = exported(response)
    assert rows[0] == HEADER
    people = by_email(rows)
    assert people["Ann@acme.example"] == [
        "Ann Able", "Ann@acme.example", "Partner admin", "active", "2026-04-01T08:00:00Z", "yes",
        "2026-03-02T09:30:00Z", "2026-03-03T14:05:07Z",
    ]
    assert people["Sam@acme.example"] == ["Sam Staff", "Sam@acme.example", "Partner staff", "active", "", "no", "",
                                          ""]
    assert len(rows) == 3


def test_an_unconfirmed_authenticator_is_not_two_factor(client, acme, partner_admin):
    sam = UserFactory(partner=acme, display_email="Sam@acme.example")
    TOTPDevice.objects.create(user=sam, name="phone", confirmed=False)
    client.force_login(partner_admin)
    assert by_email(exported(client.get("/partners/acme/people.csv")))["Sam@acme.example"][5] == "no"


def test_statuses_say_invited_deactivated_and_what_the_directory_says(client, acme, partner_admin):
    invited = UserFactory(partner=acme, display_email="new@acme.example", is_active=False)
    InviteFactory(partner=acme, user=invited, display_email="new@acme.example", state=InviteState.SENT,
                  sent_at=SENT, token_hash="a" * 64)
    gone = UserFactory(partner=acme, display_email="gone@acme.example", is_active=False)
    InviteFactory(partner=acme, user=gone, display_email="gone@acme.example", state=InviteState.REVOKED,
                  revoked_at=SENT)
    UserFactory(partner=acme, display_email="never@acme.example", is_active=False)
    UserFactory(partner=acme, display_email="dora@acme.example")
    UserFactory(partner=acme, display_email="rex@acme.example", is_active=False)
    client.force_login(partner_admin)
    statuses = {email: row[3] for email, row in by_email(exported(client.get("/partners/acme/people.csv"))).items()}
    assert statuses == {
        "Ann@acme.example": "active",
        "new@acme.example": "invited",
        "gone@acme.example": "deactivated",
        "never@acme.example": "deactivated",
        "dora@acme.example": "disabled in the directory",
        "rex@acme.example": "removed from the directory",
    }


def test_the_latest_invite_gives_the_invited_and_accepted_times(client, acme, partner_admin):
    person = UserFactory(partner=acme, display_email="twice@acme.example", is_active=False)
    InviteFactory(partner=acme, user=person, display_email="twice@acme.example", state=InviteState.EXPIRED,
                  sent_at=SENT - datetime.timedelta(days=30))
    InviteFactory(partner=acme, user=person, display_email="twice@acme.example", state=InviteState.SENT,
                  sent_at=SENT, token_hash="b" * 64)
    client.force_login(partner_admin)
    row = by_email(exported(client.get("/partners/acme/people.csv")))["twice@acme.example"]
    assert (row[3], row[6], row[7]) == ("invited", "2026-03-02T09:30:00Z", "")


def test_a_reseller_has_no_directory_status(client, other):
    admin = PartnerAdminFactory(partner=other, display_email="rita@other.example")
    client.force_login(admin)
    assert by_email(exported(client.get("/partners/other/people.csv")))["rita@other.example"][3] == "active"


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1", "@SUM(A1:A9)", "-2+3",
                                  "\t=1", "\r=1"])
def test_a_name_a_spreadsheet_would_run_comes_out_as_text(client, acme, partner_admin, name):
    UserFactory(partner=acme, display_email="mallory@acme.example", full_name=name)
    client.force_login(partner_admin)
    row = by_email(exported(client.get("/partners/acme/people.csv")))["mallory@acme.example"]
    assert row[0] == "'" + name


def test_csv_safe_cell_leaves_ordinary_text_alone():
    assert csv_safe_cell("Ann Able") == "Ann Able"
    assert csv_safe_cell("a=b") == "a=b"
    assert csv_safe_cell(None) == ""
    assert csv_safe_cell("=1+2") == "'=1+2"


# -- who may export what: everyone else gets 404, as for every partner URL ---------------------------------

def test_partner_staff_cannot_export_their_own_partner(client, acme, partner_admin):
    client.force_login(UserFactory(partner=acme))
    assert client.get("/partners/acme/people.csv").status_code == 404
    assert client.get("/partners/people.csv").status_code == 404


def test_another_partners_admin_cannot_export(client, acme, other, partner_admin):
    client.force_login(PartnerAdminFactory(partner=other))
    assert client.get("/partners/acme/people.csv").status_code == 404
    assert client.get("/partners/people.csv").status_code == 404


def test_an_account_manager_of_another_partner_cannot_export(client, acme, partner_admin):
    client.force_login(AccountManagerFactory())
    assert client.get("/partners/acme/people.csv").status_code == 404


def test_the_account_manager_and_an_admin_export_the_partner(client, acme, manager, partner_admin):
    for who in (manager, AdminFactory()):
        client.force_login(who)
        assert list(by_email(exported(client.get("/partners/acme/people.csv")))) == ["Ann@acme.example"]


def test_signed_out_people_are_sent_to_sign_in(client, acme):
    assert client.get("/partners/acme/people.csv").status_code == 302
    assert client.get("/partners/people.csv").status_code == 302


def test_an_admin_exports_every_partner_with_a_partner_column(client, acme, other, partner_admin):
    UserFactory(partner=other, display_email="rosa@other.example", full_name="Rosa Rot")
    client.force_login(AdminFactory())
    response = client.get("/partners/people.csv")
    today = timezone.now().date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="partners-portal-users-{today}.csv"'
    rows = exported(response)
    assert rows[0] == ["partner", *HEADER]
    assert [(row[0], row[2]) for row in rows[1:]] == [("Acme MSP", "Ann@acme.example"),
                                                      ("Other Ltd", "rosa@other.example")]


def test_an_account_manager_exports_only_their_partners(client, acme, other, manager, partner_admin):
    UserFactory(partner=other, display_email="rosa@other.example")
    client.force_login(manager)
    rows = exported(client.get("/partners/people.csv"))
    assert [row[2] for row in rows[1:]] == ["Ann@acme.example"]


# -- cost and record ------------------------------------------------------------------------------------------

def grow(partner, n: int) -> None:
    """Top the partner up to n portal users, each with a device and an invite, half in the directory."""
    for i in range(partner.members.count(), n):
        user = UserFactory(partner=partner, is_active=bool(i % 2), last_login=SIGNED_IN)
        TOTPDevice.objects.create(user=user, name="phone", confirmed=bool(i % 3))
        InviteFactory(partner=partner, user=user, display_email=user.display_email, state=InviteState.EXPIRED,
                      sent_at=SENT)


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        rows = exported(response)  # the rows are read while the response streams
    return len(captured), len(rows)


@pytest.mark.parametrize("url", ["/partners/acme/people.csv", "/partners/people.csv"])
def test_the_export_reads_as_many_queries_for_3_people_as_for_30(client, acme, manager, url):
    client.force_login(manager)
    grow(acme, 3)
    small, small_rows = queries(client, url)
    grow(acme, 30)
    large, large_rows = queries(client, url)
    assert (small_rows, large_rows) == (4, 31)
    assert small == large


def test_each_export_is_recorded(client, acme, manager, partner_admin):
    client.force_login(partner_admin)
    exported(client.get("/partners/acme/people.csv"))
    client.force_login(manager)
    exported(client.get("/partners/people.csv"))
    events = list(AuditEvent.objects.filter(action="people.exported").order_by("id"))
    assert [(event.actor, event.partner_id) for event in events] == [(partner_admin, acme.pk), (manager, None)]


def test_the_links_show_only_to_those_who_may_export(client, acme, manager, partner_admin):
    client.force_login(partner_admin)
    assert "/partners/acme/people.csv" in client.get("/partners/acme/").content.decode()
    client.force_login(UserFactory(partner=acme))
    assert "/partners/acme/people.csv" not in client.get("/partners/acme/").content.decode()
    client.force_login(manager)
    assert "/partners/people.csv" in client.get("/partners/").content.decode()
