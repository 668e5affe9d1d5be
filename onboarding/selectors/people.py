"""Who has access to partners' portals: every portal user with their role, status, last sign-in, second factor and
latest invitation, for the "who has access" export — one query whatever the number of people."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from accounts.models import AccessEnded, Role, TOTPDevice, User
from directory_sync.models import AddressKind, DirectoryAddress, DirectoryUserStatus
from onboarding.models import OPEN_INVITE_STATES, Invite
from onboarding.selectors.scope import name_or_address_starts_with
from partners.models import Partner, PartnerKind

# Rows fetched from the database at a time while an export streams: memory stays flat whatever the partner's size.
PEOPLE_CHUNK = 2000


class PersonStatus(models.TextChoices):
    """A portal user's access as the export states it."""

    ACTIVE = "active", _("active")
    INVITED = "invited", _("invited")  # not active yet, with an open invitation
    DEACTIVATED = "deactivated", _("deactivated")  # not active, and no open invitation
    DIRECTORY_DISABLED = "directory_disabled", _("disabled in the directory")
    DIRECTORY_REMOVED = "directory_removed", _("removed from the directory")
    REMOVED = "removed", _("removed")  # taken off the partner's people: only a new request brings them back


# What each status means for the person, and who acts next (the people pages say it beside the status).
STATUS_EXPLAINED = {
    PersonStatus.ACTIVE: _("Can sign in."),
    PersonStatus.INVITED: _("Has not accepted the invitation yet; cannot sign in until they do."),
    PersonStatus.DEACTIVATED: _("Cannot sign in; a partner admin or the account manager can reactivate them."),
    PersonStatus.DIRECTORY_DISABLED: _(
        "Disabled in the partner's directory, so they cannot sign in; once it enables them again, a partner admin "
        "can reactivate them."),
    PersonStatus.DIRECTORY_REMOVED: _(
        "Removed from the partner's directory, so they cannot sign in; should they come back there, a partner "
        "admin can reactivate them."),
    PersonStatus.REMOVED: _("Taken off the partner's people; a new request for them brings them back."),
}


ROLE_LABELS = {Role.PARTNER_STAFF: _("Partner staff"), Role.PARTNER_ADMIN: _("Partner admin")}


@dataclass(frozen=True)
class PersonRow:
    """One line of the export."""

    partner_name: str
    name: str
    email: str
    role: str  # a Role value
    status: str  # a PersonStatus value
    last_login: datetime.datetime | None
    two_factor: bool
    invited_at: datetime.datetime | None
    accepted_at: datetime.datetime | None


def _with_access_facts(people: QuerySet[User]) -> QuerySet[User]:
    """Each person with their second factor, their latest invitation and their directory person's status."""
    latest_invite = Invite.objects.filter(user=OuterRef("pk"), partner=OuterRef("partner")).order_by("-created_at",
                                                                                                       "-id")
    # The person on the MSP's account whose primary address is the user's (an address two people claim is no one's):
    # the unique (partner, address) index answers it. A reseller has no directory, so it is not asked (CASE).
    directory_status = Subquery(
        DirectoryAddress.objects.filter(
            partner=OuterRef("partner"), address=OuterRef("email"), kind=AddressKind.PRIMARY, in_conflict=False,
        ).order_by().values("directory_user__status")[:1]
    )
    return (
        people.annotate(
            has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            invited_at=Subquery(latest_invite.values("sent_at")[:1]),
            accepted_at=Subquery(latest_invite.values("accepted_at")[:1]),
            open_invite=Exists(Invite.objects.filter(user=OuterRef("pk"), partner=OuterRef("partner"),
                                                     state__in=OPEN_INVITE_STATES)),
            directory_status=Case(When(partner__kind=PartnerKind.MSP, then=directory_status), default=Value(None)),
        )
    )


def _people(partners: QuerySet[Partner]) -> QuerySet[User]:
    return (
        _with_access_facts(User.objects.filter(partner__in=partners))
        .order_by("partner__name", "partner_id", "full_name", "email")
        .values_list("partner__name", "full_name", "display_email", "role", "is_active", "last_login", "has_totp",
                     "invited_at", "accepted_at", "open_invite", "directory_status", "access_ended")
    )


def person_status(*, is_active: bool, open_invite: bool, directory_status: str | None, access_ended: str = "") -> str:
    """A portal user's status (a PersonStatus value)."""
    if access_ended == AccessEnded.REMOVED:
        return PersonStatus.REMOVED
    # Disabled or removed in the MSP's directory comes first: such a person cannot sign in, whatever the portal says.
    if directory_status == DirectoryUserStatus.DISABLED or access_ended == AccessEnded.DIRECTORY_DISABLED:
        return PersonStatus.DIRECTORY_DISABLED
    if directory_status == DirectoryUserStatus.REMOVED or access_ended == AccessEnded.DIRECTORY_REMOVED:
        return PersonStatus.DIRECTORY_REMOVED
    if is_active:
        return PersonStatus.ACTIVE
    if access_ended:
        return PersonStatus.DEACTIVATED
    return PersonStatus.INVITED if open_invite else PersonStatus.DEACTIVATED


# The statuses a people page filters on, as conditions on the person's own row (an index-friendly filter; the
# status shown also reads their directory person, which a sync may have disabled a moment ago).
STATUS_FILTERS = {
    PersonStatus.ACTIVE: Q(is_active=True),
    PersonStatus.INVITED: Q(is_active=False, access_ended=""),
    PersonStatus.DEACTIVATED: Q(access_ended=AccessEnded.DEACTIVATED),
    PersonStatus.DIRECTORY_DISABLED: Q(access_ended=AccessEnded.DIRECTORY_DISABLED),
    PersonStatus.DIRECTORY_REMOVED: Q(access_ended=AccessEnded.DIRECTORY_REMOVED),
    PersonStatus.REMOVED: Q(access_ended=AccessEnded.REMOVED),
}


def partner_people_with_status(*, partner: Partner, search: str = "", status: str = "",
                               role: str = "") -> QuerySet[User]:
    """The partner's people (all but the removed, unless asked for), by name, each with their status facts.

    Read a page at a time in the order of accounts' (partner, full_name, email) index; the per-person facts are
    worked out for the page's rows only."""
    people = User.objects.filter(partner=partner)
    people = people.filter(STATUS_FILTERS[status]) if status else people.exclude(access_ended=AccessEnded.REMOVED)
    if role:
        people = people.filter(role=role)
    if search:
        people = people.filter(name_or_address_starts_with(search, name="full_name", email="email"))
    return _with_access_facts(people).order_by("full_name", "email")


def partner_person(*, partner: Partner, user_id: int) -> User:
    """One of the partner's people, with the facts of their status, or 404."""
    return get_object_or_404(_with_access_facts(User.objects.filter(partner=partner)), pk=user_id)


def with_status(people) -> list[User]:
    """The page's people, each with `.status` (a PersonStatus value) and `.status_explained`."""
    people = list(people)
    for person in people:
        person.status = person_status(is_active=person.is_active, open_invite=person.open_invite,
                                      directory_status=person.directory_status, access_ended=person.access_ended)
        person.status_label = PersonStatus(person.status).label
        person.status_explained = STATUS_EXPLAINED[person.status]
    return people


def people_with_access(*, partners: QuerySet[Partner]) -> Iterator[PersonRow]:
    """The portal users of these partners, by partner then name, read in chunks as they are consumed: one query
    (a server-side cursor) for three people or fifty thousand."""
    for (partner_name, name, email, role, is_active, last_login, two_factor, invited_at, accepted_at, open_invite,
         directory_status, access_ended) in _people(partners).iterator(chunk_size=PEOPLE_CHUNK):
        yield PersonRow(
            partner_name=partner_name, name=name, email=email, role=role,
            status=person_status(is_active=is_active, open_invite=open_invite, directory_status=directory_status,
                                 access_ended=access_ended),
            last_login=last_login, two_factor=two_factor, invited_at=invited_at, accepted_at=accepted_at,
        )
