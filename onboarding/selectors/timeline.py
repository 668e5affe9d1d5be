"""A requested person's way to access, from the audit trail."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.models import AuditEvent
from onboarding.models import Invite, RequestItem

TIMELINE_STEPS = (
    ("request.item_submitted", _("Requested")),
    ("request.item_approved", _("Approved")),
    ("request.item_rejected", _("Rejected")),
    ("request.item_awaiting_validation", _("Waiting for the directory")),
    ("request.item_invalid_address", _("Alias or forwarding address: primary suggested")),
    ("request.item_validated", _("Found in the directory")),
    ("request.item_account_created", _("Account created")),
    ("request.item_expired", _("Expired")),
    ("request.item_asked_again", _("Asked again as")),
    ("request.item_follow_up", _("Asked again for an earlier request of")),
    ("request.item_flagged", _("Domain added to another account: flagged for the account manager")),
    ("invite.sent", _("Invited")),
    ("invite.send_failed", _("Invitation could not be sent")),
    ("invite.resent", _("Invitation sent again")),
    ("invite.revoked", _("Invitation revoked")),
    ("invite.expired", _("Invitation expired")),
    ("invite.accepted", _("Accepted")),
    ("welcome.sent", _("Welcome mail sent")),
    ("welcome.send_failed", _("Welcome mail could not be sent")),
    ("welcome.resent", _("Welcome mail sent again")),
    ("welcome.revoked", _("Welcome link revoked")),
    ("welcome.accepted", _("Accepted")),
    ("two_factor.enrolled", _("Two-factor enrolled")),
    ("access.deactivated", _("Access removed (deactivated)")),
    ("access.directory_disabled", _("Access removed (disabled in the directory)")),
    ("access.directory_removed", _("Access removed (removed from the directory)")),
    ("access.removed", _("Removed from the portal")),
    ("access.reactivated", _("Access restored")),
    ("access.role_changed", _("Role changed")),
)

# What the person's own account went through (the rest of a timeline is their requests' and invites').
ACCOUNT_STEPS = ("two_factor.enrolled", "access.deactivated", "access.directory_disabled", "access.directory_removed",
                 "access.removed", "access.reactivated", "access.role_changed")
ROLE_NAMES = {"partner_admin": _("partner admin"), "partner_staff": _("partner staff")}


def item_events(*, item: RequestItem) -> QuerySet[AuditEvent]:
    """The audit events of a requested person's way to access, oldest first: of the item, of its invites, and the
    two-factor enrolment of its user (the audit trail's (target_type, target_id) index answers each)."""
    invites = list(item.invites.order_by("-created_at", "-id").values_list("pk", "user_id"))
    user_id = item.user_id or next((user_id for _pk, user_id in invites if user_id), None)
    query = Q(target_type="onboarding.requestitem", target_id=str(item.pk)) | Q(
        target_type="onboarding.invite", target_id__in=[str(pk) for pk, _user_id in invites]
    )
    if user_id:
        query |= Q(target_type="accounts.user", target_id=str(user_id), action__in=ACCOUNT_STEPS)
    return AuditEvent.objects.filter(query, action__in=dict(TIMELINE_STEPS)).order_by("created_at", "id")


def person_events(*, user: User) -> QuerySet[AuditEvent]:
    """The audit events of a portal user's access, oldest first: of every request for their address at their
    partner, of their invites, and of their account (each answered from the trail's (target_type, target_id)
    index; the requests from the items' address index)."""
    items = RequestItem.objects.filter(partner_id=user.partner_id, email=user.email).values_list("pk", flat=True)
    invites = Invite.objects.filter(user=user).values_list("pk", flat=True)
    query = (
        Q(target_type="onboarding.requestitem", target_id__in=[str(pk) for pk in items])
        | Q(target_type="onboarding.invite", target_id__in=[str(pk) for pk in invites])
        | Q(target_type="accounts.user", target_id=str(user.pk), action__in=ACCOUNT_STEPS)
    )
    return AuditEvent.objects.filter(query, action__in=dict(TIMELINE_STEPS)).order_by("created_at", "id")


def timeline_steps(events: Iterable[AuditEvent]) -> list[dict]:
    """The steps a page of item_events shows."""
    labels = dict(TIMELINE_STEPS)
    return [{"at": e.created_at, "label": labels[e.action], "actor": e.actor_label or _("system"),
             "detail": e.data.get("reason") or e.data.get("primary") or e.data.get("asked_as")
             or e.data.get("asked_for") or ROLE_NAMES.get(e.data.get("to", "")) or ""} for e in events]


def item_timeline(*, item: RequestItem) -> list[dict]:
    """A requested person's way to access, from the audit trail of the item, its invites and its user."""
    return timeline_steps(item_events(item=item))
