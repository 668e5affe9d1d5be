"""Who has access to partners' portals: every portal user with their role, status, last sign-in, second factor and
latest invitation, for the "who has access" export — one query whatever the number of people."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import models
from django.db.models import Case, Exists, OuterRef, QuerySet, Subquery, Value, When
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, TOTPDevice, User
from directory_sync.models import AddressKind, DirectoryAddress, DirectoryUserStatus
from onboarding.models import OPEN_INVITE_STATES, Invite
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


def _people(partners: QuerySet[Partner]) -> QuerySet[User]:
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
        User.objects.filter(partner__in=partners)
        .annotate(
            has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            invited_at=Subquery(latest_invite.values("sent_at")[:1]),
            accepted_at=Subquery(latest_invite.values("accepted_at")[:1]),
            open_invite=Exists(Invite.objects.filter(user=OuterRef("pk"), partner=OuterRef("partner"),
                                                     state__in=OPEN_INVITE_STATES)),
            directory_status=Case(When(partner__kind=PartnerKind.MSP, then=directory_status), default=Value(None)),
        )
        .order_by("partner__name", "partner_id", "full_name", "email")
        .values_list("partner__name", "full_name", "display_email", "role", "is_active", "last_login", "has_totp",
                     "invited_at", "accepted_at", "open_invite", "directory_status")
    )


def _status(*, is_active: bool, open_invite: bool, directory_status: str | None) -> str:
    # Disabled or removed in the MSP's directory comes first: such a person cannot sign in, whatever the portal says.
    if directory_status == DirectoryUserStatus.DISABLED:
        return PersonStatus.DIRECTORY_DISABLED
    if directory_status == DirectoryUserStatus.REMOVED:
        return PersonStatus.DIRECTORY_REMOVED
    if is_active:
        return PersonStatus.ACTIVE
    return PersonStatus.INVITED if open_invite else PersonStatus.DEACTIVATED


def people_with_access(*, partners: QuerySet[Partner]) -> Iterator[PersonRow]:
    """The portal users of these partners, by partner then name, read in chunks as they are consumed: one query
    (a server-side cursor) for three people or fifty thousand."""
    for (partner_name, name, email, role, is_active, last_login, two_factor, invited_at, accepted_at, open_invite,
         directory_status) in _people(partners).iterator(chunk_size=PEOPLE_CHUNK):
        yield PersonRow(
            partner_name=partner_name, name=name, email=email, role=role,
            status=_status(is_active=is_active, open_invite=open_invite, directory_status=directory_status),
            last_login=last_login, two_factor=two_factor, invited_at=invited_at, accepted_at=accepted_at,
        )
