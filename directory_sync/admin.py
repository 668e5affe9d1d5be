"""Admin for directory connections (secrets write-only), synced people, and sync runs (read-only)."""

from django import forms
from django.contrib import admin

from directory_sync.models import (
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    SyncProblem,
    SyncRun,
)
from portal.admin_utils import AuditedAdmin, ReadOnlyAdmin, WriteOnlySecretsForm


class DirectoryConnectionForm(WriteOnlySecretsForm):
    secret_fields = ("bind_password",)
    bind_password_clear = forms.BooleanField(required=False, label="Remove the stored bind password")

    class Meta:
        model = DirectoryConnection
        fields = "__all__"


@admin.register(DirectoryConnection)
class DirectoryConnectionAdmin(AuditedAdmin):
    form = DirectoryConnectionForm
    list_display = ("partner", "kind", "preset", "uri", "is_enabled", "last_sync_at", "last_full_sync_at")
    list_filter = ("kind", "preset", "is_enabled")
    list_select_related = ("partner",)
    search_fields = ("partner__name", "uri", "base_dn")
    autocomplete_fields = ("partner",)
    readonly_fields = ("high_water_mark", "last_sync_at", "last_full_sync_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("partner", "kind", "preset", "is_enabled")}),
        ("Server", {
            "fields": ("uri", "start_tls", "ca_certificate", "bind_dn", "bind_password", "bind_password_clear"),
        }),
        ("Search", {"fields": ("base_dn", "user_filter", "page_size", "attribute_overrides")}),
        ("Schedule and safety", {
            "fields": ("incremental_every_minutes", "full_every_hours", "removal_brake_percent"),
        }),
        ("State", {"fields": ("high_water_mark", "last_sync_at", "last_full_sync_at", "created_at", "updated_at")}),
    )


class DirectoryAddressInline(admin.TabularInline):
    model = DirectoryAddress
    fields = ("display_address", "address", "kind", "in_conflict")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DirectoryUser)
class DirectoryUserAdmin(ReadOnlyAdmin):
    """People come from the directory or a CSV upload; edits here would be overwritten by the next run."""

    list_display = ("display_name", "partner", "status", "external_id", "changed_at")
    list_filter = ("status", "partner")
    list_select_related = ("partner",)
    search_fields = ("display_name", "external_id", "dn", "addresses__address")
    inlines = (DirectoryAddressInline,)


@admin.register(DirectoryAddress)
class DirectoryAddressAdmin(ReadOnlyAdmin):
    list_display = ("display_address", "kind", "in_conflict", "directory_user", "partner")
    list_filter = ("kind", "in_conflict", "partner")
    list_select_related = ("directory_user", "partner")
    search_fields = ("address", "display_address", "directory_user__display_name")


class SyncProblemInline(admin.TabularInline):
    model = SyncProblem
    fields = ("kind", "dn", "external_id", "address", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "connection", "mode", "status", "dry_run", "seen", "created", "updated",
                    "disabled", "removed", "skipped", "conflicts", "duration")
    list_filter = ("status", "mode", "dry_run", "connection__partner")
    list_select_related = ("connection__partner",)
    search_fields = ("connection__partner__name", "error")
    date_hierarchy = "started_at"
    inlines = (SyncProblemInline,)
