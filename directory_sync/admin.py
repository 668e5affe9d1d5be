"""Admin for directory connections (secrets write-only), synced people, and sync runs (read-only)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.admin_utils import (
    AuditedAdmin,
    BoundedInlineFormSet,
    EstimatedCountPaginator,
    IndexedSearchMixin,
    ReadOnlyAdmin,
    WriteOnlySecretsForm,
    inline_overflow_note,
)
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
from directory_sync.services.scim import ScimRefused, scim_token_new
from directory_sync.sources.csv_file import csv_size_check
from directory_sync.tasks import run_sync
from partners.models import Partner


class DirectoryConnectionForm(WriteOnlySecretsForm):
    secret_fields = ("bind_password",)
    bind_password_clear = forms.BooleanField(required=False, label=_("Remove the stored bind password"))

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
            self.add_error("uri", gettext("The URI must start with ldap:// (StartTLS) or ldaps://."))
        return cleaned


class CsvUploadForm(forms.Form):
    file = forms.FileField(help_text=_("Columns: name, primary, aliases, forwarding, enabled (and optionally id)."))
    dry_run = forms.BooleanField(required=False, help_text=_("Only report what would change."))
    force = forms.BooleanField(
        required=False, help_text=_("Apply even if more people would be removed or disabled than the brake allows.")
    )


def queue_sync(*, request, connection: DirectoryConnection, full: bool, force: bool) -> bool:
    """Queue a run of an LDAP connection after the request's transaction commits; say so to the admin."""
    if connection.kind == SourceKind.SCIM:
        messages.warning(request, gettext(
            "{partner}: people come by SCIM from the identity provider; there is nothing to sync.").format(
            partner=connection.partner))
        return False
    if connection.kind != SourceKind.LDAP:
        messages.warning(request, gettext("{partner}: CSV accounts are updated by uploading a file.").format(
            partner=connection.partner))
        return False
    DirectoryConnection.objects.filter(pk=connection.pk).update(sync_requested_at=timezone.now())
    transaction.on_commit(lambda: run_sync.delay(connection.pk, full=full, force=force, actor_id=request.user.pk))
    text = (gettext("{partner}: a full sync is queued; its run appears under Sync runs.") if full
            else gettext("{partner}: an incremental sync is queued; its run appears under Sync runs."))
    messages.success(request, text.format(partner=connection.partner))
    return True


@admin.register(DirectoryConnection)
class DirectoryConnectionAdmin(AuditedAdmin):
    form = DirectoryConnectionForm
    list_display = ("partner", "source", "uri", "is_enabled", "last_sync_at", "last_full_sync_at")
    list_filter = ("kind", "preset", "is_enabled")
    list_select_related = ("partner",)
    search_fields = ("partner__name", "uri", "base_dn")
    autocomplete_fields = ("partner",)
    readonly_fields = ("high_water_mark", "last_sync_at", "last_full_sync_at", "created_at", "updated_at",
                       "scim_base_url", "scim_token")
    fieldsets = (
        (None, {"fields": ("partner", "kind", "preset", "is_enabled")}),
        (_("SCIM provisioning"), {
            "fields": ("scim_base_url", "scim_token"),
            "description": _("For the kind “SCIM provisioning”: the identity provider (Microsoft Entra ID, Okta …) "
                             "pushes the account's people to this URL with this token."),
        }),
        (_("Server"), {
            "fields": ("uri", "start_tls", "ca_certificate", "bind_dn", "bind_password", "bind_password_clear"),
        }),
        (_("Search"), {"fields": ("base_dn", "user_filter", "page_size", "attribute_overrides")}),
        (_("Schedule and safety"), {
            "fields": ("incremental_every_minutes", "full_every_hours", "removal_brake_percent"),
        }),
        (_("State"), {"fields": ("high_water_mark", "last_sync_at", "last_full_sync_at", "created_at", "updated_at")}),
    )
    actions = ("sync_now", "sync_now_full", "sync_now_full_forced", "new_scim_token")
    change_form_template = "admin/directory_sync/directoryconnection/change_form.html"

    @admin.display(description=_("Source"), ordering="kind")
    def source(self, connection: DirectoryConnection) -> str:
        """CSV, or LDAP with its preset: a CSV connection's preset field keeps its default but means nothing."""
        if connection.kind in (SourceKind.CSV, SourceKind.SCIM):
            return connection.get_kind_display()
        return f"LDAP: {connection.get_preset_display()}"

    @admin.display(description=_("SCIM base URL (tenant URL)"))
    def scim_base_url(self, connection: DirectoryConnection) -> str:
        if connection.kind != SourceKind.SCIM:
            return "—"
        return settings.PORTAL_URL + reverse("scim:users").removesuffix("/Users")

    @admin.display(description=_("SCIM token"))
    def scim_token(self, connection: DirectoryConnection) -> str:
        """When the token was made, and a button that makes a new one (it submits to scim_token_view)."""
        if connection.kind != SourceKind.SCIM or not connection.pk:
            return gettext("Save the connection with the kind “SCIM provisioning” first.")
        state = (gettext("made {when}, kept only as its hash").format(
            when=date_format(timezone.localtime(connection.scim_token_created_at), "DATETIME_FORMAT"))
            if connection.scim_token_hash else gettext("none yet"))
        url = reverse("admin:directory_sync_connection_scim_token", args=[connection.pk])
        return format_html('{} <button type="submit" class="button" formaction="{}" formmethod="post" '
                           'formnovalidate>{}</button>', state, url, gettext("New SCIM token"))

    @admin.action(description=_("New SCIM token (shown once; the previous one stops working)"),
                  permissions=["change"])
    def new_scim_token(self, request, queryset):
        connections = list(queryset.select_related("partner")[:2])
        if len(connections) != 1 or connections[0].kind != SourceKind.SCIM:
            messages.warning(request, gettext("Choose exactly one SCIM connection for a new token."))
            return None
        return self._token_page(request, connections[0])

    def scim_token_view(self, request, pk: int):
        """The "New SCIM token" button of a connection's page (POST only): make the token and show it once."""
        return require_POST(lambda r, pk: self._token_page(r, self._connection_for(r, pk)))(request, pk)

    def _token_page(self, request, connection: DirectoryConnection):
        try:
            token = scim_token_new(connection=connection, actor=request.user, request=request)
        except ScimRefused as exc:
            messages.warning(request, str(exc))
            return HttpResponseRedirect(reverse("admin:directory_sync_directoryconnection_change",
                                                args=[connection.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": connection,
            "token": token, "base_url": self.scim_base_url(connection),
            "title": gettext("New SCIM token for {partner}").format(partner=connection.partner),
        }
        response = TemplateResponse(request, "admin/directory_sync/directoryconnection/scim_token.html", context)
        response["Cache-Control"] = "no-store"  # the token is shown once: never from a cache
        return response

    @admin.action(description=_("Sync now (incremental)"), permissions=["change"])
    def sync_now(self, request, queryset):
        for connection in queryset.select_related("partner"):
            queue_sync(request=request, connection=connection, full=False, force=False)

    @admin.action(description=_("Sync now (full)"), permissions=["change"])
    def sync_now_full(self, request, queryset):
        for connection in queryset.select_related("partner"):
            queue_sync(request=request, connection=connection, full=True, force=False)

    @admin.action(description=_("Sync now (full, force past the removal brake)"), permissions=["change"])
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
            path(
                "<int:pk>/scim-token/", self.admin_site.admin_view(self.scim_token_view),
                name="directory_sync_connection_scim_token",
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
                messages.add_message(request, level, gettext(
                    "Import {status}: seen {seen}, created {created}, updated {updated}, disabled {disabled}, "
                    "removed {removed}. {error}").format(
                    status=run.status, seen=run.seen, created=run.created, updated=run.updated,
                    disabled=run.disabled, removed=run.removed, error=run.error))
                return HttpResponseRedirect(reverse("admin:directory_sync_syncrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": connection,
            "form": form, "title": gettext("Upload people for {partner}").format(partner=connection.partner),
        }
        return TemplateResponse(request, "admin/directory_sync/directoryconnection/upload_csv.html", context)


class DirectoryAddressInline(admin.TabularInline):
    model = DirectoryAddress
    formset = BoundedInlineFormSet  # a shared mailbox may claim hundreds of aliases
    fields = ("display_address", "address", "kind", "in_conflict")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _person_filter(term: str, typed: str) -> Q:
    """People by one of their addresses (exact) or the beginning of their name."""
    if "@" in term:
        return Q(Exists(DirectoryAddress.objects.filter(directory_user=OuterRef("pk"), address=term)))
    return Q(display_name__istartswith=typed)


@admin.register(DirectoryUser)
class DirectoryUserAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    """People come from the directory or a CSV upload; edits here would be overwritten by the next run."""

    list_display = ("display_name", "partner", "status", "external_id", "changed_at")
    list_filter = ("status", "partner")
    list_select_related = ("partner",)
    search_fields = ("addresses__address", "display_name")
    search_help_text = _("One of the person's addresses, or the beginning of their name.")
    ordering = ("-pk",)  # the primary key's index: a page of 100,000 people is never sorted by name
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (DirectoryAddressInline,)

    def search_filter(self, term: str, typed: str) -> Q:
        return _person_filter(term, typed)

    @admin.display(description=_("Addresses"))
    def addresses_note(self, person: DirectoryUser) -> str:
        url = reverse("admin:directory_sync_directoryaddress_changelist") + f"?directory_user__id__exact={person.pk}"
        return inline_overflow_note(total=person.addresses.count(), shown=BoundedInlineFormSet.max_shown, url=url,
                                    noun="address(es)")

    readonly_fields = ("addresses_note",)


@admin.register(DirectoryAddress)
class DirectoryAddressAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    list_display = ("display_address", "kind", "in_conflict", "directory_user", "partner")
    list_filter = ("kind", "in_conflict", "partner")
    list_select_related = ("directory_user", "partner")
    search_fields = ("address",)
    search_help_text = _("An address (any case) or its beginning.")
    ordering = ("-pk",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("directory_user", "partner")

    def search_filter(self, term: str, typed: str) -> Q:
        return Q(address__startswith=term)


class SyncProblemInline(admin.TabularInline):
    model = SyncProblem
    formset = BoundedInlineFormSet  # a run over a broken directory may skip thousands of entries
    fields = ("kind", "dn", "external_id", "address", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    change_form_template = "admin/directory_sync/syncrun/change_form.html"
    list_display = ("started_at", "connection", "mode", "status", "dry_run", "seen", "created", "updated",
                    "disabled", "removed", "skipped", "conflicts", "duration")
    list_filter = ("status", "mode", "dry_run", ("started_at", admin.DateFieldListFilter), "connection__partner")
    list_select_related = ("connection__partner",)
    search_fields = ("connection__partner__name",)
    search_help_text = _("The partner's name (any part) or slug.")
    ordering = ("-pk",)  # runs are numbered as they start
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ("problems_note",)
    inlines = (SyncProblemInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("connection__partner", "triggered_by")

    def search_filter(self, term: str, typed: str) -> Q:
        # Partners are few: the runs are reached from the matching partners through the connection's index.
        return Q(connection__partner__in=Partner.objects.filter(Q(name__icontains=typed) | Q(slug=term)))

    @admin.display(description=_("Problems"))
    def problems_note(self, run: SyncRun) -> str:
        url = reverse("admin:directory_sync_syncproblem_changelist") + f"?run__id__exact={run.pk}"
        return inline_overflow_note(total=run.problems.count(), shown=BoundedInlineFormSet.max_shown, url=url,
                                    noun="problem(s)")


@admin.register(SyncProblem)
class SyncProblemAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    """What runs skipped or found in conflict, run by run (a run's page shows its first ones)."""

    list_display = ("run", "kind", "dn", "external_id", "address", "reason")
    list_filter = ("kind",)
    list_select_related = ("run__connection__partner",)
    search_fields = ("address", "external_id")
    search_help_text = _("An address or a directory id, exactly.")
    ordering = ("-pk",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run__connection__partner")

    def search_filter(self, term: str, typed: str) -> Q:
        return Q(address=term) | Q(external_id=typed)

