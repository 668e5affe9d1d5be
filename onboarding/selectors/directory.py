"""A CSV-sourced account's directory people as its maintainers see them (a page at a time, searched by the
beginning of a name or address), and who changed which of them when (from the audit trail)."""

from django.db.models import Q, QuerySet, Subquery

from core.models import AuditEvent
from directory_sync.models import (
    ADDRESS_IN_EITHER_STATE,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
)
from directory_sync.services.people_edits import PERSON_ACTIONS
from partners.models import Partner

STATUSES = tuple(DirectoryUserStatus.values)


def directory_connection_of(*, partner: Partner) -> DirectoryConnection | None:
    """The account's directory connection (LDAP or CSV), or None when it has none yet."""
    return DirectoryConnection.objects.filter(partner=partner).first()


def directory_people(*, partner: Partner, search: str = "", status: str = "") -> QuerySet[DirectoryUser]:
    """The account's people by name (the id breaks ties), with their addresses: present ones (active and
    disabled) unless `status` names one; `search` matches the beginning of a name (any case) or of an address."""
    shown = Q(status=status) if status in STATUSES else ~Q(status=DirectoryUserStatus.REMOVED)
    people = DirectoryUser.objects.filter(shown, partner=partner)
    search = search.strip()
    if search:
        # A subquery, not a join: a join would repeat a person once per matching address. The indexes find the
        # account's rows (ADDRESS_IN_EITHER_STATE lets the two partial ones on (partner, address) serve it), and the
        # prefix is checked on those: no index of its own (a LIKE index costs every sync a third of its write time,
        # see DirectoryAddress.Meta), so a search reads one account's rows, never every account's (3 ms at 3,000).
        holders = DirectoryAddress.objects.filter(ADDRESS_IN_EITHER_STATE, partner=partner,
                                                  address__startswith=search.lower())
        people = people.filter(Q(display_name__istartswith=search)
                               | Q(pk__in=Subquery(holders.order_by().values("directory_user_id"))))
    return people.prefetch_related("addresses").order_by("display_name", "id")


def directory_person(*, partner: Partner, person_id: int) -> DirectoryUser | None:
    """One present person of the account (with their addresses), or None: another account's is never found."""
    return (DirectoryUser.objects.filter(partner=partner, pk=person_id).exclude(status=DirectoryUserStatus.REMOVED)
            .prefetch_related("addresses").first())


def directory_changes(*, partner: Partner) -> QuerySet[AuditEvent]:
    """Who added, changed or removed which of the account's people, and when: newest first."""
    return AuditEvent.objects.filter(partner_id=partner.pk, action__in=PERSON_ACTIONS).order_by("-created_at", "-id")
