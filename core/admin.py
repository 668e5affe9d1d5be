"""Admin for the audit trail (searchable, filterable, never editable) and the outbox of notifications.

Both tables grow without end (hundreds of thousands of rows): their lists page on an index, count
only the filtered rows, and search on indexed columns by exact value or beginning (see
core.admin_utils.IndexedSearchMixin), never by a substring.
"""

import ipaddress

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin_utils import EstimatedCountPaginator, IndexedSearchMixin, ReadOnlyAdmin
from core.errors import PortalError
from core.mail import outbound_mail_resend
from core.mail_demo import mail_demos
from core.mail_render import mail_render
from core.models import AuditEvent, OutboundMail

PORTAL_APPS = ("core", "partners", "directory_sync", "accounts", "onboarding", "portal")


def _ip_address(term: str) -> str | None:
    try:
        return str(ipaddress.ip_address(term))
    except ValueError:
        return None


# The actions in the trail, one index probe each (a "loose index scan" over the action index) instead of
# a DISTINCT that reads every event.
DISTINCT_ACTIONS = """
WITH RECURSIVE actions(action) AS (
    SELECT MIN(action) FROM portal_auditevent
    UNION ALL
    SELECT (SELECT MIN(later.action) FROM portal_auditevent later WHERE later.action > actions.action)
    FROM actions WHERE actions.action IS NOT NULL
)
SELECT action FROM actions WHERE action IS NOT NULL
"""


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        with connection.cursor() as cursor:
            cursor.execute(DISTINCT_ACTIONS)
            return [(action, action) for (action,) in cursor.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class TargetTypeFilter(admin.SimpleListFilter):
    """The kinds of object events are about: the portal's models (known without asking the trail)."""

    title = _("target type")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        return sorted(
            (model._meta.label_lower, model._meta.verbose_name)
            for model in apps.get_models() if model._meta.app_label in PORTAL_APPS
        )

    def queryset(self, request, queryset):
        return queryset.filter(target_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    list_display = ("created_at", "actor_label", "action", "partner_id", "target_type", "target_label", "ip_address")
    list_filter = (ActionFilter, TargetTypeFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "action", "target_label", "ip_address")
    search_help_text = _(
        "The beginning of the actor's address, of the action (signin.) or of the object's name as written; "
        "or a client's IP address."
    )
    ordering = ("-created_at", "-id")  # the created_at index, read backwards
    list_select_related = False
    fields = (
        "created_at", "actor_id", "actor_label", "action", "partner_id",
        "target_type", "target_id", "target_label", "data", "ip_address", "user_agent",
    )
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def search_filter(self, term: str, typed: str) -> Q:
        ip = _ip_address(typed)
        if ip is not None:
            return Q(ip_address=ip)
        # Each column has an index that serves a prefix (core 0003, varchar_pattern_ops on PostgreSQL).
        return (
            Q(actor_label__startswith=term) | Q(action__startswith=term)
            | Q(target_label__startswith=typed) | Q(target_label__startswith=term)
        )


@admin.register(OutboundMail)
class OutboundMailAdmin(IndexedSearchMixin, ReadOnlyAdmin):
    """Every notification and where it is: waiting, being sent, sent, or failed with its error."""

    list_display = ("created_at", "to", "subject", "state", "attempts", "sent_at", "partner_id")
    list_filter = ("state", "template", ("created_at", admin.DateFieldListFilter))
    search_fields = ("to",)
    search_help_text = _("The recipient's address, or its beginning.")
    ordering = ("-created_at", "-id")  # the created_at index, read backwards
    fields = ("created_at", "to", "subject", "template", "partner_id", "state", "attempts", "last_error",
              "last_attempt_at", "next_attempt_at", "sent_at", "body")
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("send_again",)

    def search_filter(self, term: str, typed: str) -> Q:
        # Recipients are stored as given: the spelling typed, or the normalised one (outbound_mail_to_prefix).
        return Q(to__startswith=typed) | Q(to__startswith=term)

    @admin.action(description=_("Send again (from the first try, now)"), permissions=["resend"])
    def send_again(self, request, queryset):
        done = 0
        for mail in queryset:
            try:
                outbound_mail_resend(mail=mail, actor=request.user, request=request)
                done += 1
            except PortalError as exc:
                self.message_user(request, f"{mail}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, gettext("{count} mail(s) queued again.").format(count=done), messages.SUCCESS)

    def has_resend_permission(self, request):
        # The rows stay read-only (no change form); sending again is the one thing done to them.
        return request.user.has_perm("core.change_outboundmail")

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", preview, name="core_outboundmail_preview"), *super().get_urls()]

    def preview_view(self, request):
        """Every mail template rendered with demo data, both parts, in a language chosen; nothing is sent.

        The HTML part is shown in an iframe's srcdoc with an empty sandbox (no script, no forms, an opaque
        origin, its links inert), under this page's Content-Security-Policy, which srcdoc documents inherit:
        no exception to the site's policy is needed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        demos = mail_demos()
        chosen = demos.get(request.GET.get("template", "")) or next(iter(demos.values()))
        languages = dict(settings.LANGUAGES)
        language = request.GET.get("language", "")
        language = language if language in languages else translation.get_language()
        with translation.override(language):
            rendered = mail_render(template=chosen.template, context=chosen.context, subject=chosen.subject,
                                   partner=chosen.partner)
        return TemplateResponse(request, "admin/core/outboundmail/preview.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Mail previews"), "opts": self.model._meta,
            "templates": sorted(demos), "chosen": chosen, "language": language,
            "languages": settings.LANGUAGES, "text": rendered.text, "html": rendered.html,
        })
