"""What the API tests of lists, decisions and invites share: an MSP with a directory, a client of each role, lists
submitted as in the portal, the audit events of an action, and what an answer costs in queries."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import ApiTokenScope, Role, User
from core.models import AuditEvent
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import RequestItem
from partners.models import PartnerKind
from tests.accounts.factories import AccountManagerFactory, AdminFactory, PartnerAdminFactory
from tests.onboarding.factories import PortalUserRequestFactory, RequestItemFactory
from tests.partners.factories import AgreementFactory, PartnerFactory

ROLES = ["partner_admin", "partner_staff", "account_manager", "other_account_manager", "admin"]

DIRECTORY = ("name,primary,aliases,forwarding,enabled\n"
             "Ada Lovelace,Ada.Lovelace@Partner.example,ada@partner.example,,yes\n"
             "Grace Hopper,grace@partner.example,,,yes\n")
ADA = {"name": "Ada Lovelace", "email": "Ada.Lovelace@Partner.example"}
ALIAS = {"name": "Ada again", "email": "ada@partner.example"}
NIA = {"name": "Nia Newcomer", "email": "nia@partner.example", "role": "admin"}


def msp_partner(**kwargs):
    """An MSP with a current agreement and a directory holding Ada (primary, with an alias) and Grace."""
    partner = PartnerFactory(kind=PartnerKind.MSP, **kwargs)
    AgreementFactory(partner=partner)
    connection = DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV)
    directory_csv_import(connection=connection, data=DIRECTORY.encode())
    return partner


def staff_with_token(api_as, partner, *, scope: str = ApiTokenScope.WRITE):
    """A partner's staff member holding a token (made while a partner admin: staff make none), and their client."""
    person = PartnerAdminFactory(partner=partner)
    client = api_as(person, scope=scope)
    User.objects.filter(pk=person.pk).update(role=Role.PARTNER_STAFF)
    return client


def client_of(api_as, role: str, partner, *, scope: str = ApiTokenScope.WRITE):
    """A client of a person of each role the API knows, as seen from `partner`."""
    if role == "partner_staff":
        return staff_with_token(api_as, partner, scope=scope)
    return api_as(person_of(role, partner), scope=scope)


def person_of(role: str, partner):
    """A person of each role the API knows, as seen from `partner` (partner staff: see staff_with_token)."""
    return {
        "partner_admin": lambda: PartnerAdminFactory(partner=partner),
        "account_manager": lambda: partner.account_manager,
        "other_account_manager": lambda: AccountManagerFactory(),
        "admin": lambda: AdminFactory(),
    }[role]()


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def submitted(partner, *emails: str) -> list[RequestItem]:
    """A list of the partner's (as its admin submitted it in the portal) asking for these people."""
    portal_request = PortalUserRequestFactory(partner=partner)
    return [RequestItemFactory(request=portal_request, name=email.split("@")[0], display_email=email)
            for email in emails]


def queries_of(client: APIClient, path: str) -> int:
    """How many queries one answer costs (in this process: the live server's thread has a connection of its own)."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)
