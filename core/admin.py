"""Admin for the audit trail: searchable, filterable, never editable."""

from django.contrib import admin

from core.admin_utils import ReadOnlyAdmin
from core.models import AuditEvent


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
