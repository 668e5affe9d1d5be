"""A partner's people with access, over time: deactivate, reactivate, remove, change role, and offboarding.

Each change is a service with its audit event in the same transaction. Ending someone's access also raises
their session generation: every session they have open stops working at its next request (the session hash
no longer matches, and `get_user` finds no active user), not only at their next sign-in.

A partner keeps at least one active partner admin: no one (its admins, its account manager, an admin) can
deactivate, remove or demote the last one. The partner's own directory overrides that rule: a partner admin
disabled or removed there loses access like anyone (a leaver keeps nothing), and the account manager makes
another partner admin.
"""

from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.http import HttpRequest
from django.utils import timezone

from accounts.errors import (
    ACCESS_NOT_ACTIVE,
    ACCESS_NOT_RESTORABLE,
    ACCESS_OWN,
    ACCESS_REMOVED_ALREADY,
    ACCESS_ROLE_UNCHANGED,
    ACCESS_STILL_OFF_IN_DIRECTORY,
    LAST_PARTNER_ADMIN,
    AccessRefused,
)
from accounts.models import ENDED_BY_DIRECTORY, PARTNER_ROLES, AccessEnded, Role, User
from accounts.services.api_tokens import api_tokens_revoke_of, may_make_api_tokens
from core.audit import audit_event, audit_record, audit_record_many
from directory_sync.models import AddressKind, DirectoryAddress, DirectoryConnection, DirectoryUserStatus
from directory_sync.selectors import recipient_lookup
from partners.models import WebhookEvent
from partners.services.webhooks import webhook_emit_many

OFF_IN_DIRECTORY = {
    DirectoryUserStatus.DISABLED: AccessEnded.DIRECTORY_DISABLED,
    DirectoryUserStatus.REMOVED: AccessEnded.DIRECTORY_REMOVED,
}


def _locked(user: User) -> User:
    """The person's row, locked for the change (and fresh: a page may show an older state).

    The partner's active partner admins are locked first, in the order of their ids, then the person: every
    change takes its locks in that one order, so two admins demoting each other at the same moment are taken one
    after the other (the second finds itself the last one) instead of deadlocking."""
    list(User.objects.select_for_update().filter(partner_id=user.partner_id, role=Role.PARTNER_ADMIN, is_active=True)
         .order_by("pk").values_list("pk", flat=True))
    return User.objects.select_for_update().get(pk=user.pk)


def _refuse_own(user: User, actor) -> None:
    if actor is not None and actor.pk == user.pk:
        raise AccessRefused(ACCESS_OWN)


def _keep_a_partner_admin(user: User) -> None:
    """Refuse to take away the partner's last active partner admin (their rows are locked by `_locked`)."""
    if user.role != Role.PARTNER_ADMIN or not user.is_active:
        return
    admins = list(User.objects.filter(partner_id=user.partner_id, role=Role.PARTNER_ADMIN, is_active=True)
                  .values_list("pk", flat=True))
    if admins == [user.pk]:
        raise AccessRefused(LAST_PARTNER_ADMIN)


def _end_access(user: User, reason: str) -> None:
    now = timezone.now()
    user.is_active = False
    user.access_ended, user.access_ended_at = reason, now
    user.session_generation += 1
    user.save(update_fields=["is_active", "access_ended", "access_ended_at", "session_generation"])
    api_tokens_revoke_of(user_ids=[user.pk], why=reason)  # a reactivation does not bring them back
    _offboarded_emit(user.partner_id, [(user.pk, user.display_email, reason)])


def _offboarded_emit(partner_id: int | None, people: list[tuple[int, str, str]]) -> None:
    """The partner's webhooks hear whose access ended and why: (id, address, reason) each, one INSERT for all."""
    webhook_emit_many(event=WebhookEvent.PERSON_OFFBOARDED, items=[
        (partner_id, {"user_id": pk, "email": address, "reason": reason}) for pk, address, reason in people])


def _audit(user: User, action: str, actor, request, data: dict | None = None) -> None:
    audit_record(actor=actor, action=action, target=user, partner_id=user.partner_id, request=request, data=data)


def user_deactivate(*, user: User, actor, request: HttpRequest | None = None) -> User:
    """End an active person's access now; every session of theirs ends at its next request."""
    with transaction.atomic():
        user = _locked(user)
        _refuse_own(user, actor)
        if not user.is_active:
            raise AccessRefused(ACCESS_NOT_ACTIVE.format(email=user.display_email))
        _keep_a_partner_admin(user)
        _end_access(user, AccessEnded.DEACTIVATED)
        _audit(user, "access.deactivated", actor, request)
    return user


def user_remove(*, user: User, actor, request: HttpRequest | None = None) -> User:
    """Take a person off the partner's people with access for good: only a new request brings them back.

    The row stays (the audit trail and the requests name it); open invitations are onboarding's to revoke."""
    with transaction.atomic():
        user = _locked(user)
        _refuse_own(user, actor)
        if user.access_ended == AccessEnded.REMOVED:
            raise AccessRefused(ACCESS_REMOVED_ALREADY.format(email=user.display_email))
        _keep_a_partner_admin(user)
        _end_access(user, AccessEnded.REMOVED)
        _audit(user, "access.removed", actor, request)
    return user


def user_reactivate(*, user: User, actor, request: HttpRequest | None = None) -> User:
    """Give a deactivated person their access back (and one whose directory has enabled them again).

    A removed person, or one who never accepted their invitation, is requested again instead."""
    with transaction.atomic():
        user = _locked(user)
        if user.access_ended not in (AccessEnded.DEACTIVATED, *ENDED_BY_DIRECTORY):
            raise AccessRefused(ACCESS_NOT_RESTORABLE.format(email=user.display_email))
        # Where the partner has a directory, only a primary address of an enabled person signs in (R7, the same
        # answer sign-in asks for): anyone else would be reactivated to no avail, and offboarded again.
        has_directory = DirectoryConnection.objects.filter(partner_id=user.partner_id).exists()
        if has_directory and not recipient_lookup(partner_id=user.partner_id, address=user.email).is_primary:
            raise AccessRefused(ACCESS_STILL_OFF_IN_DIRECTORY.format(email=user.display_email))
        ended = user.access_ended
        user.is_active = True
        user.access_ended, user.access_ended_at = "", None
        user.save(update_fields=["is_active", "access_ended", "access_ended_at"])
        _audit(user, "access.reactivated", actor, request, {"ended": ended})
    return user


def user_set_role(*, user: User, role: str, actor, request: HttpRequest | None = None) -> User:
    """Make a partner's person a partner admin or partner staff."""
    if role not in PARTNER_ROLES:
        raise ValueError(f"not a partner role: {role!r}")
    with transaction.atomic():
        user = _locked(user)
        _refuse_own(user, actor)
        if user.access_ended == AccessEnded.REMOVED:
            raise AccessRefused(ACCESS_REMOVED_ALREADY.format(email=user.display_email))
        if user.role == role:
            raise AccessRefused(ACCESS_ROLE_UNCHANGED.format(email=user.display_email, role=user.get_role_display()))
        if role != Role.PARTNER_ADMIN:
            _keep_a_partner_admin(user)
        before = user.role
        user.role = role
        user.save(update_fields=["role"])
        if not may_make_api_tokens(user):  # a partner admin made staff: their tokens stop with the role
            api_tokens_revoke_of(user_ids=[user.pk], why="role", actor=actor, request=request)
        _audit(user, "access.role_changed", actor, request, {"from": before, "to": role})
    return user


def _leavers(partner_id: int) -> list[tuple[int, str, str]]:
    """(id, address, directory status) of the partner's active people whom its directory disabled or removed,
    locked: a concurrent offboarding waits, then finds them without access and leaves them."""
    active = User.objects.select_for_update(of=("self",)).filter(partner_id=partner_id, is_active=True)
    # The person the user is linked to (recipient validation links them) ...
    linked = active.filter(directory_user__status__in=list(OFF_IN_DIRECTORY)).values_list(
        "pk", "display_email", "directory_user__status")
    # ... or, for users that are not (made in the admin, say), the person whose primary address theirs is: with no
    # enabled one left, they could not sign in any more (R7), and are offboarded like the others (disabled, if
    # the person is still there; removed, if no one has the address as primary any more).
    primary = DirectoryAddress.objects.filter(partner_id=partner_id, address=OuterRef("email"),
                                              kind=AddressKind.PRIMARY)
    unlinked = (
        active.filter(directory_user__isnull=True)
        .alias(enabled=Exists(primary.filter(directory_user__status=DirectoryUserStatus.ACTIVE)),
               disabled=Exists(primary.filter(directory_user__status=DirectoryUserStatus.DISABLED)))
        .filter(enabled=False)
        .annotate(off=Case(When(disabled=True, then=Value(DirectoryUserStatus.DISABLED)),
                           default=Value(DirectoryUserStatus.REMOVED)))
        .values_list("pk", "display_email", "off")
    )
    return list(linked) + list(unlinked)


def users_offboard_from_directory(*, partner_id: int) -> int:
    """End the access of the partner's people whom its directory disabled or removed: a statement to find them
    and one to end their access per reason, however many people the directory holds.

    Safe to run again and again: people already without access are left as they are. Returns how many lost
    access now."""
    if not DirectoryConnection.objects.filter(partner_id=partner_id).exists():
        return 0  # no directory (a reseller): its partner admins offboard its people
    now = timezone.now()
    with transaction.atomic():
        leavers = _leavers(partner_id)
        for status, reason in OFF_IN_DIRECTORY.items():
            ids = [pk for pk, _address, off in leavers if off == status]
            if ids:
                User.objects.filter(pk__in=ids).update(
                    is_active=False, access_ended=reason, access_ended_at=now,
                    session_generation=F("session_generation") + 1,
                )
        events = []
        for pk, address, off in leavers:
            event = audit_event(actor=None, action=f"access.{OFF_IN_DIRECTORY[off]}", partner_id=partner_id)
            event.target_type, event.target_id, event.target_label = User._meta.label_lower, str(pk), address
            events.append(event)
        audit_record_many(events)
        api_tokens_revoke_of(user_ids=[pk for pk, _address, _off in leavers], why="directory")
        _offboarded_emit(partner_id, [(pk, address, OFF_IN_DIRECTORY[off]) for pk, address, off in leavers])
    return len(leavers)
