"""Admin for the audit trail (searchable, filterable, never editable) and the outbox of notifications."""

from django.contrib import admin, messages

from core.admin_utils import ReadOnlyAdmin
from core.errors import PortalError
from core.mail import outbound_mail_resend
from core.models import AuditEvent, OutboundMail


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "partner_id", "target_type", "target_label", "ip_address")
    list_filter = ("action", "target_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "action", "target_label", "target_id", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = False
    fields = (
        "created_at", "actor_id", "actor_label", "action", "partner_id",
        "target_type", "target_id", "target_label", "data", "ip_address", "user_agent",
    )
    readonly_fields = fields
    show_full_result_count = False


@admin.register(OutboundMail)
class OutboundMailAdmin(ReadOnlyAdmin):
    """Every notification and where it is: waiting, being sent, sent, or failed with its error."""

    list_display = ("created_at", "to", "subject", "state", "attempts", "sent_at", "partner_id")
    list_filter = ("state", "template", ("created_at", admin.DateFieldListFilter))
    search_fields = ("to", "subject")
    date_hierarchy = "created_at"
    fields = ("created_at", "to", "subject", "template", "partner_id", "state", "attempts", "last_error",
              "last_attempt_at", "next_attempt_at", "sent_at", "body")
    readonly_fields = fields
    show_full_result_count = False
    actions = ("send_again",)

    @admin.action(description="Send again (from the first try, now)", permissions=["resend"])
    def send_again(self, request, queryset):
        done = 0
        for mail in queryset:
            try:
                outbound_mail_resend(mail=mail, actor=request.user, request=request)
                done += 1
            except PortalError as exc:
                self.message_user(request, f"{mail}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} mail(s) queued again.", messages.SUCCESS)

    def has_resend_permission(self, request):
        # The rows stay read-only (no change form); sending again is the one thing done to them.
        return request.user.has_perm("core.change_outboundmail")
