"""SCIM provisioning of an account's people: what an identity provider's create, replace and delete do.

A SCIM change is a change to the account's directory people like a partner's edit (people_edits): the same
normalisation, address rules, writer, audit and `people_changed` on commit (so accounts offboards and onboarding
re-checks held requests, R9). The connection's row is locked for each change: the changes of one account wait for
each other. The brake: a provider that deactivates or deletes more than the connection's removal_brake_percent of
the account's people within SCIM_BRAKE_WINDOW_MINUTES (at least SCIM_BRAKE_MINIMUM people are always allowed) is
refused until the window has passed, or an admin raises the connection's brake.
"""

import datetime
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
from core.emails import InvalidEmail, normalize_email
from core.errors import PortalError
from directory_sync.models import (
    AddressKind,
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    DirectoryUserStatus,
    ScimIdentity,
    SourceKind,
)
from directory_sync.services.people_edits import DomainCheck, PeopleEditRefused, directory_person_write
from directory_sync.sources.csv_file import ADD, REMOVE, UPDATE

TOKEN_PREFIX = "scim_"  # noqa: S105 - a marker, not a secret
TOKEN_CREATED = "directory.scim.token_created"  # noqa: S105 - an audit action
IDENTITY_CHANGED = "directory.scim.identity_changed"
ACTIVE, DISABLED, REMOVED = DirectoryUserStatus.ACTIVE, DirectoryUserStatus.DISABLED, DirectoryUserStatus.REMOVED
# The defaults of the settings of these names.
SCIM_BRAKE_WINDOW_MINUTES = 60
SCIM_BRAKE_MINIMUM = 5

# What the identity provider's administrators read in its provisioning log (tests reuse them).
NOT_SCIM = _("This directory connection is not a SCIM connection.")
USER_NAME_TAKEN = _("userName {user_name} is already provisioned on this account.")
NO_PRIMARY = _("A user needs an email address (emails with primary true, or a userName that is an address).")
NOT_FOUND = _("No user with this id on this account.")
BRAKE = _(
    "Refused by the removal brake: {done} of {present} people of this account were deactivated or deleted in the "
    "last {minutes} minutes, and this one would pass the {limit} allowed ({percent}%). Nothing was changed. Check the "
    "provisioning job; if this is intended, ask the vendor to raise the connection's brake, or retry after the window."
)


# A hook for the layers above (as people_edits' DomainCheck): given the account's partner, the check of the domains its
# people may not have addresses at (onboarding knows the vendor's own domains). Registered at start-up.
_domain_checks: list[Callable[[object], DomainCheck]] = []


def scim_domain_check_register(factory: Callable[[object], DomainCheck]) -> None:
    """Have every SCIM change refuse the domains `factory(partner)` refuses (a layer above calls this in ready())."""
    if factory not in _domain_checks:
        _domain_checks.append(factory)


def _domain_check(partner) -> DomainCheck | None:
    if not _domain_checks:
        return None
    checks = [factory(partner) for factory in _domain_checks]

    def check(domains: set[str]) -> dict[str, str]:
        refused: dict[str, str] = {}
        for one in checks:
            refused.update(one(domains))
        return refused

    return check


class ScimRefused(PortalError):
    """A SCIM change refused before anything was written; `status` and `scim_type` are its SCIM error's."""

    status = 400
    scim_type = "invalidValue"

    def __init__(self, message: str, *, status: int | None = None, scim_type: str | None = None):
        super().__init__(message)
        self.status = status or self.status
        self.scim_type = self.scim_type if scim_type is None else scim_type


class ScimNotFound(ScimRefused):
    status, scim_type = 404, ""


class ScimRefusedByBrake(ScimRefused):
    status, scim_type = 409, ""


@dataclass(frozen=True)
class ScimRecord:
    """A SCIM User as the portal keeps it: who the provider says the person is, addresses as typed."""

    user_name: str
    external_id: str = ""
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    active: bool = True
    primary: str = ""
    aliases: Sequence[str] = ()
    forwarding: Sequence[str] = ()


# -- tokens --------------------------------------------------------------------------------------------------------


def scim_token_hash(token: str) -> str:
    """The SHA-256 of a bearer token: what is stored and looked up (a token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def scim_token_new(*, connection: DirectoryConnection, actor, request=None) -> str:
    """Make the connection's SCIM bearer token (the previous one stops working) and return it: shown once."""
    if connection.kind != SourceKind.SCIM:
        raise ScimRefused(str(NOT_SCIM))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        connection.scim_token_hash = scim_token_hash(token)
        connection.scim_token_created_at = timezone.now()
        connection.save(update_fields=["scim_token_hash", "scim_token_created_at", "updated_at"])
        audit_record(actor=actor, action=TOKEN_CREATED, target=connection, partner=connection.partner,
                     request=request)
    return token


def scim_connection_for_token(*, token: str) -> DirectoryConnection | None:
    """The enabled SCIM connection of an active partner this bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return (DirectoryConnection.objects.select_related("partner")
            .filter(kind=SourceKind.SCIM, is_enabled=True, partner__is_active=True,
                    scim_token_hash=scim_token_hash(token)).first())


# -- people --------------------------------------------------------------------------------------------------------


def scim_person_create(*, connection: DirectoryConnection, record: ScimRecord) -> ScimIdentity:
    """Provision a person: a new one, or the account's present person with this primary address whom no provider
    provisioned yet (people uploaded before the account moved to SCIM are adopted, not doubled)."""
    with transaction.atomic():
        connection = scim_connection_lock(connection=connection)
        partner = connection.partner
        user_name = _user_name(record)
        if ScimIdentity.objects.filter(partner=partner, user_name=user_name).exists():
            raise ScimRefused(str(USER_NAME_TAKEN).format(user_name=record.user_name), status=409,
                              scim_type="uniqueness")
        scim_id = uuid.uuid4()
        adopted = _unlinked_person_with_primary(partner, _primary(record))
        if adopted is not None and adopted.status == ACTIVE and not record.active:
            _brake(connection, exclude=adopted.pk)
        person = _write(connection, record, action=UPDATE if adopted else ADD,
                        external_id=adopted.external_id if adopted else str(scim_id))
        return ScimIdentity.objects.create(
            scim_id=scim_id, partner=partner, directory_user=person, user_name=user_name,
            **_identity_fields(record),
        )


def scim_person_replace(*, connection: DirectoryConnection, scim_id: str, record: ScimRecord) -> ScimIdentity:
    """Replace a provisioned person's record (PUT, or the result of a PATCH); a deactivation passes the brake."""
    with transaction.atomic():
        connection = scim_connection_lock(connection=connection)
        partner = connection.partner
        identity = scim_identity(connection=connection, scim_id=scim_id)
        user_name = _user_name(record)
        if ScimIdentity.objects.filter(partner=partner, user_name=user_name).exclude(pk=identity.pk).exists():
            raise ScimRefused(str(USER_NAME_TAKEN).format(user_name=record.user_name), status=409,
                              scim_type="uniqueness")
        person = identity.directory_user
        if person.status == ACTIVE and not record.active:
            _brake(connection, exclude=person.pk)
        identity.directory_user = _write(connection, record, action=UPDATE, external_id=person.external_id)
        before = {"userName": identity.display_user_name, "externalId": identity.external_id}
        identity.user_name = user_name
        for name, value in _identity_fields(record).items():
            setattr(identity, name, value)
        identity.save()
        after = {"userName": identity.display_user_name, "externalId": identity.external_id}
        if after != before:  # the person's own changes are audited by the writer; these are the provider's names
            audit_record(actor=None, action=IDENTITY_CHANGED, target=identity.directory_user, partner=partner,
                         data={"before": before, "after": after, "via": "scim"})
        return identity


def scim_person_delete(*, connection: DirectoryConnection, scim_id: str) -> None:
    """Deprovision a person: removed from the account (kept recorded, as a sync does), their SCIM id gone."""
    with transaction.atomic():
        connection = scim_connection_lock(connection=connection)
        identity = scim_identity(connection=connection, scim_id=scim_id)
        person = identity.directory_user
        _brake(connection, exclude=person.pk)
        directory_person_write(partner=connection.partner, actor=None, action=REMOVE,
                               external_id=person.external_id, via="scim")
        identity.delete()


# -- helpers -------------------------------------------------------------------------------------------------------


def scim_connection_lock(*, connection: DirectoryConnection) -> DirectoryConnection:
    """The connection locked for the transaction: one change of an account at a time (a PATCH reads, applies and
    writes under it, so two concurrent patches of one person never lose each other's change)."""
    locked = DirectoryConnection.objects.select_for_update().select_related("partner").get(pk=connection.pk)
    if locked.kind != SourceKind.SCIM:
        raise ScimRefused(str(NOT_SCIM), status=403, scim_type="")
    return locked


def scim_identity(*, connection: DirectoryConnection, scim_id: str) -> ScimIdentity:
    """The connection's provisioned person with this SCIM id, or ScimNotFound (another account's ids too)."""
    try:
        key = uuid.UUID(str(scim_id))
    except ValueError:
        raise ScimNotFound(str(NOT_FOUND)) from None
    identity = (ScimIdentity.objects.select_related("directory_user")
                .filter(partner_id=connection.partner_id, scim_id=key).first())
    if identity is None:
        raise ScimNotFound(str(NOT_FOUND))
    return identity


def _user_name(record: ScimRecord) -> str:
    user_name = record.user_name.strip()
    if not user_name:
        raise ScimRefused(str(_("userName is required.")))
    return user_name.lower()[:300]


def _primary(record: ScimRecord) -> str:
    try:
        return normalize_email(record.primary or record.user_name)
    except InvalidEmail:
        raise ScimRefused(str(NO_PRIMARY)) from None


def _unlinked_person_with_primary(partner, address: str) -> DirectoryUser | None:
    row = (DirectoryAddress.objects.filter(partner=partner, address=address, kind=AddressKind.PRIMARY,
                                           in_conflict=False, directory_user__scim__isnull=True)
           .exclude(directory_user__status=REMOVED).select_related("directory_user").first())
    return row.directory_user if row else None


def _write(connection: DirectoryConnection, record: ScimRecord, *, action: str, external_id: str) -> DirectoryUser:
    primary = record.primary or record.user_name
    _primary(record)
    name = record.display_name or " ".join(p for p in (record.given_name, record.family_name) if p)
    try:
        return directory_person_write(
            partner=connection.partner, actor=None, action=action, external_id=external_id, name=name,
            primary=primary, aliases=[a for a in record.aliases if a.strip().lower() != primary.strip().lower()],
            forwarding=record.forwarding, disabled=not record.active, via="scim",
            domain_check=_domain_check(connection.partner),
        )
    except PeopleEditRefused as exc:
        # Addresses were checked as addresses already: what is left is an address someone else holds, or one at a
        # domain the account may not use.
        raise ScimRefused(str(exc), status=409, scim_type="uniqueness") from exc


def _identity_fields(record: ScimRecord) -> dict:
    return {"display_user_name": record.user_name.strip()[:300], "external_id": record.external_id[:255],
            "given_name": record.given_name[:150], "family_name": record.family_name[:150]}


def _brake(connection: DirectoryConnection, *, exclude: int) -> None:
    """Refuse one more deactivation or deletion when the window's would pass the brake (ScimRefusedByBrake)."""
    minutes = getattr(settings, "SCIM_BRAKE_WINDOW_MINUTES", SCIM_BRAKE_WINDOW_MINUTES)
    since = timezone.now() - datetime.timedelta(minutes=minutes)
    people = DirectoryUser.objects.filter(partner_id=connection.partner_id)
    done = (people.filter(status__in=[DISABLED, REMOVED], changed_at__gte=since).exclude(pk=exclude).count())
    # Who the account had when the window began: those present now, and those the window removed — not those the
    # window created, or a provider could create people first to make room for removing more of the real ones.
    before = people.filter(first_seen_at__lt=since)
    present = before.exclude(status=REMOVED).count() + before.filter(status=REMOVED, changed_at__gte=since).count()
    percent = connection.removal_brake_percent
    limit = max(getattr(settings, "SCIM_BRAKE_MINIMUM", SCIM_BRAKE_MINIMUM), present * percent // 100)
    if done + 1 > limit:
        raise ScimRefusedByBrake(str(BRAKE).format(done=done, present=present, minutes=minutes, limit=limit,
                                                   percent=percent))
