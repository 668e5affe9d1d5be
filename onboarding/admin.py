"""Admin for portal-user requests, their items and invites, with actions that call the services."""

from django.contrib import admin, messages
from django.utils.text import Truncator

from core.admin_utils import AuditedAdmin
from core.conflicts import conflicts_refused
from onboarding.errors import REFUSED
from onboarding.models import Invite, PortalUserRequest, RequestItem
from onboarding.services.invites import invite_resend, invite_revoke
from onboarding.services.review import request_item_approve


def _each(modeladmin, request, queryset, service, done: str) -> None:
    """Run a service per selected object; report successes and refusals (with their reasons)."""
    count = 0
    for obj in queryset:
        try:
            with conflicts_refused():
                service(obj)
            count += 1
        except REFUSED as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)


class RequestItemInline(admin.TabularInline):
    model = RequestItem
    extra = 0
    fields = ("name", "display_email", "state", "check_result", "suggested_email", "decided_by", "decided_at")
    readonly_fields = ("state", "check_result", "suggested_email", "decided_by", "decided_at")
    show_change_link = True


@admin.register(PortalUserRequest)
class PortalUserRequestAdmin(AuditedAdmin):
    list_display = ("id", "partner", "submitted_by", "source", "submitted_at")
    list_filter = ("source", "partner__kind", ("submitted_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "submitted_by")
    search_fields = ("partner__name", "submitted_by__email", "items__email", "received_from")
    autocomplete_fields = ("partner",)
    raw_id_fields = ("submitted_by",)
    inlines = (RequestItemInline,)


@admin.register(RequestItem)
class RequestItemAdmin(AuditedAdmin):
    list_display = ("name", "display_email", "partner", "state", "check_result", "decided_at", "updated_at")
    list_filter = ("state", "check_result", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("name", "email", "display_email", "partner__name")
    readonly_fields = ("email", "created_at", "updated_at")
    raw_id_fields = ("request", "decided_by", "user")
    autocomplete_fields = ("partner",)
    actions = ("approve",)

    @admin.action(description="Approve (resellers: account and welcome mail; MSPs: recipient validation)",
                  permissions=["change"])
    def approve(self, request, queryset):
        _each(self, request, queryset.select_related("partner"),
              lambda item: request_item_approve(item=item, actor=request.user, request=request), "approved")


@admin.register(Invite)
class InviteAdmin(AuditedAdmin):
    list_display = ("display_email", "partner", "kind", "state", "expires_at", "sent_at", "send_attempts", "error")
    list_filter = ("state", "kind", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "display_email", "name", "partner__name")
    # The token exists only as a hash and is never shown, not even hashed; nor the nonce it is derived from.
    exclude = ("token_hash", "token_nonce")
    readonly_fields = ("email", "sent_at", "send_attempts", "last_attempt_at", "next_attempt_at", "last_error",
                       "accepted_at", "revoked_at", "renewal_requested_at", "created_by", "created_at")
    raw_id_fields = ("item", "user")
    autocomplete_fields = ("partner",)
    actions = ("resend", "revoke")

    @admin.display(description="last error")
    def error(self, invite: Invite) -> str:
        return Truncator(invite.last_error).chars(80)

    @admin.action(description="Resend (new link, fresh expiry; the old link stops working)", permissions=["change"])
    def resend(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_resend(invite=invite, actor=request.user, request=request), "resent")

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_revoke(invite=invite, actor=request.user, request=request), "revoked")
