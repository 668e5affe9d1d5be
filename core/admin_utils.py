"""Helpers for the Django admin: write-only secret fields, audited saves, read-only admins, indexed search,
bounded inlines, estimated counts of big tables."""

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
from core.emails import InvalidEmail, normalize_email


class SecretInput(forms.PasswordInput):
    """A password box that never renders the stored value back."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class WriteOnlySecretsForm(forms.ModelForm):
    """A model form whose `secret_fields` are write-only: blank on edit keeps the stored secret.

    The help text says whether a secret is stored, never what it is. A subclass may declare a
    `<name>_clear` BooleanField to let the operator remove a stored secret.
    """

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields.get(name)
            if field is None:
                continue
            field.widget = SecretInput()
            field.required = False
            stored = bool(self.instance.pk and getattr(self.instance, name))
            field.help_text = (
                gettext("A secret is stored. Leave empty to keep it; type a new one to replace it.")
                if stored
                else gettext("Stored encrypted; never shown back.")
            )
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if cleaned.get(f"{name}_clear"):
                if cleaned.get(name):
                    self.add_error(name, gettext("Either type a new secret or remove the stored one, not both."))
                cleaned[name] = ""
            elif not cleaned.get(name) and self.instance.pk:
                # Keep what is stored: the box is always empty on edit.
                cleaned[name] = type(self.instance).objects.filter(pk=self.instance.pk).values_list(
                    name, flat=True
                ).first() or ""
        return cleaned


class AuditedAdmin(admin.ModelAdmin):
    """Records an audit event for everything the admin logs: adds, changes (inlines and password
    changes included, with Django's change message) and deletions, single or bulk."""

    def audit_partner(self, obj):
        """The partner an object belongs to, for scoping its audit events."""
        return getattr(obj, "partner", None)

    def _audit(self, request, action: str, obj, message=None) -> None:
        data = {"change": message} if message else {}
        audit_record(
            actor=request.user, action=action, target=obj, partner=self.audit_partner(obj), data=data, request=request
        )

    def log_addition(self, request, obj, message):
        self._audit(request, "admin.add", obj, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, "admin.change", obj, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, "admin.delete", obj)
        return super().log_deletions(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows records and never changes them (audit events, sync runs, synced data)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def search_term_normalised(search_term: str) -> str:
    """An admin search term as the portal stores addresses: normalised when it is one, else lower-cased."""
    term = search_term.strip()
    try:
        return normalize_email(term)
    except InvalidEmail:
        return term.lower()


class IndexedSearchMixin:
    """Admin search that an index answers, for tables too big for Django's `icontains` on every field.

    Django's search compares UPPER(column) LIKE '%term%', which no ordinary index serves, over every
    search field (joins included) and counts the whole table beside. Here the term is normalised the
    way addresses are stored (lower case) and `search_filter` ORs exact or prefix lookups on columns
    with an index that serves them (a `varchar_pattern_ops` index for a prefix on PostgreSQL). Every
    branch of the OR must have its index, or the database reads the table after all.
    """

    search_help_text = _("An exact value or its beginning: an address (any case), an action, a name as written.")

    def search_filter(self, term: str, typed: str) -> Q:
        """The condition for a non-empty search: `term` normalised, `typed` as typed (trimmed)."""
        raise NotImplementedError

    def get_search_results(self, request, queryset, search_term):
        typed = search_term.strip()
        if not typed:
            return queryset, False
        return queryset.filter(self.search_filter(search_term_normalised(typed), typed)), False


class BoundedInlineFormSet(BaseInlineFormSet):
    """An inline formset showing at most `max_shown` rows (the first, in the inline's order), so that a
    change page costs the same whatever the size of its list; the rest are a link away."""

    max_shown = 50

    def get_queryset(self):
        if not hasattr(self, "_bounded_queryset"):
            self._bounded_queryset = super().get_queryset()[: self.max_shown]
        return self._bounded_queryset


def inline_overflow_note(*, total: int, shown: int, url: str, noun: str) -> str:
    """What a change page says above a bounded inline: how many there are, and where to see them all."""
    if total <= shown:
        return f"{total} {noun}"
    return format_html(
        '{} {}; the first {} are shown below. <a href="{}">See all of them</a>.', total, noun, shown, url
    )


class EstimatedCountPaginator(Paginator):
    """A paginator that takes an unfiltered big table's size from PostgreSQL's statistics.

    Counting 200,000 audit events reads them all (tens of milliseconds at every page); the planner's
    estimate (pg_class.reltuples, kept by autovacuum) is close enough to number the pages. Filtered
    lists, small tables and other databases are counted exactly.
    """

    ESTIMATE_FROM = 50_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                               [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= self.ESTIMATE_FROM:
                return row[0]
        return super().count
