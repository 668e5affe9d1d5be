"""Admin for directory connections (secrets write-only), synced people, and sync runs (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.admin_utils import AuditedAdmin, ReadOnlyAdmin, WriteOnlySecretsForm
from core.conflicts import conflicts_refused
from core.errors import ConcurrentChange
from directory_sync.errors import SyncError
from directory_sync.mapping import resolve_mapping
from directory_sync.models import (
    DirectoryAddress,
    DirectoryConnection,
    DirectoryUser,
    SourceKind,
    SyncProblem,
    SyncRun,
    SyncStatus,
)
from directory_sync.services.runs import directory_csv_import
from directory_sync.sources.csv_file import csv_size_check
from directory_sync.tasks import run_sync


class DirectoryConnectionForm(WriteOnlySecretsForm):
    secret_fields = ("bind_password",)
    bind_password_clear = forms.BooleanField(required=False, label="Remove the stored bind password")

    class Meta:
        model = DirectoryConnection
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        try:
            resolve_mapping(preset=cleaned.get("preset"), overrides=cleaned.get("attribute_overrides") or {})
        except (ValueError, KeyError) as exc:
            self.add_error("attribute_overrides", str(exc))
        uri = cleaned.get("uri") or ""
        if uri and not uri.lower().startswith(("ldap://", "ldaps://")):
            self.add_error("uri", "The URI must start with ldap:// (StartTLS) or ldaps://.")
        return cleaned


class CsvUploadForm(forms.Form):
    file = forms.FileField(help_text="Columns: name, primary, aliases, forwarding, enabled (and optionally id).")
    dry_run = forms.BooleanField(required=False, help_text="Only report what would change.")
    force = forms.BooleanField(
        required=False, help_text="Apply even if more people would be removed or disabled than the brake allows."
    )


def queue_sync(*, request, connection: DirectoryConnection, full: bool, force: bool) -> bool:
    """Queue a run of an LDAP connection after the request's transaction commits; say so to the admin."""
    if connection.kind != SourceKind.LDAP:
        messages.warning(request, f"{connection.partner}: CSV accounts are updated by uploading a file.")
        return False
    DirectoryConnection.objects.filter(pk=connection.pk).update(sync_requested_at=timezone.now())
    transaction.on_commit(lambda: run_sync.delay(connection.pk, full=full, force=force, actor_id=request.user.pk))
    kind = "full" if full else "incremental"
    messages.success(request, f"{connection.partner}: a {kind} sync is queued; its run appears under Sync runs.")
    return True


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
    actions = ("sync_now", "sync_now_full", "sync_now_full_forced")
    change_form_template = "admin/directory_sync/directoryconnection/change_form.html"

    @admin.action(description="Sync now (incremental)", permissions=["change"])
    def sync_now(self, request, queryset):
        for connection in queryset.select_related("partner"):
            queue_sync(request=request, connection=connection, full=False, force=False)

    @admin.action(description="Sync now (full)", permissions=["change"])
    def sync_now_full(self, request, queryset):
        for connection in queryset.select_related("partner"):
            queue_sync(request=request, connection=connection, full=True, force=False)

    @admin.action(description="Sync now (full, force past the removal brake)", permissions=["change"])
    def sync_now_full_forced(self, request, queryset):
        for connection in queryset.select_related("partner"):
            queue_sync(request=request, connection=connection, full=True, force=True)

    def get_urls(self):
        return [
            path("<int:pk>/sync/", self.admin_site.admin_view(self.sync_view), name="directory_sync_connection_sync"),
            path(
                "<int:pk>/upload-csv/", self.admin_site.admin_view(self.upload_csv_view),
                name="directory_sync_connection_upload_csv",
            ),
            *super().get_urls(),
        ]

    def _connection_for(self, request, pk: int) -> DirectoryConnection:
        connection = get_object_or_404(DirectoryConnection.objects.select_related("partner"), pk=pk)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        return connection

    def sync_view(self, request, pk: int):
        """The "Sync now" buttons of a connection's page (POST only)."""
        return require_POST(self._sync)(request, pk)

    def _sync(self, request, pk: int):
        connection = self._connection_for(request, pk)
        queue_sync(
            request=request, connection=connection, full=request.POST.get("full") == "1",
            force=request.POST.get("force") == "1",
        )
        return HttpResponseRedirect(reverse("admin:directory_sync_directoryconnection_change", args=[pk]))

    def upload_csv_view(self, request, pk: int):
        """Upload a CSV file for an account without a directory server."""
        connection = self._connection_for(request, pk)
        form = CsvUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                csv_size_check(upload.size)  # before a byte of it is read into memory
                with conflicts_refused():
                    run = directory_csv_import(
                        connection=connection, data=upload.read(),
                        force=form.cleaned_data["force"], dry_run=form.cleaned_data["dry_run"], actor=request.user,
                    )
            except (SyncError, ValidationError, ConcurrentChange) as exc:
                form.add_error("file", str(exc))
            else:
                level = messages.SUCCESS if run.status == SyncStatus.SUCCEEDED else messages.WARNING
                messages.add_message(request, level, f"Import {run.status}: seen {run.seen}, created {run.created}, "
                                     f"updated {run.updated}, disabled {run.disabled}, removed {run.removed}. "
                                     f"{run.error}")
                return HttpResponseRedirect(reverse("admin:directory_sync_syncrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": connection,
            "form": form, "title": f"Upload people for {connection.partner}",
        }
        return TemplateResponse(request, "admin/directory_sync/directoryconnection/upload_csv.html", context)


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
    change_form_template = "admin/directory_sync/syncrun/change_form.html"
    list_display = ("started_at", "connection", "mode", "status", "dry_run", "seen", "created", "updated",
                    "disabled", "removed", "skipped", "conflicts", "duration")
    list_filter = ("status", "mode", "dry_run", "connection__partner")
    list_select_related = ("connection__partner",)
    search_fields = ("connection__partner__name", "error")
    date_hierarchy = "started_at"
    inlines = (SyncProblemInline,)
