"""Helpers for the Django admin: write-only secret fields, audited saves, read-only admins."""

from django import forms
from django.contrib import admin

from portal.audit import audit_record


class SecretInput(forms.PasswordInput):
    """A password box that never renders the stored value back."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class WriteOnlySecretsForm(forms.ModelForm):
    """A model form whose `secret_fields` are write-only: blank on edit keeps the stored secret.

    The help text says whether a secret is stored, never what it is.
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
                "A secret is stored. Leave empty to keep it; type a new one to replace it."
                if stored
                else "Stored encrypted; never shown back."
            )
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if not cleaned.get(name) and self.instance.pk:
                # Keep what is stored: the box is always empty on edit.
                cleaned[name] = type(self.instance).objects.filter(pk=self.instance.pk).values_list(
                    name, flat=True
                ).first() or ""
        return cleaned


class AuditedAdmin(admin.ModelAdmin):
    """Records an audit event for every add, change and delete made through the admin."""

    def audit_partner(self, obj):
        """The partner an object belongs to, for scoping its audit events."""
        return getattr(obj, "partner", None)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"admin.{'change' if change else 'add'}",
            target=obj,
            partner=self.audit_partner(obj),
            data={"fields": sorted(form.changed_data)},
            request=request,
        )

    def delete_model(self, request, obj):
        audit_record(
            actor=request.user, action="admin.delete", target=obj, partner=self.audit_partner(obj), request=request
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(
                actor=request.user, action="admin.delete", target=obj, partner=self.audit_partner(obj), request=request
            )
        super().delete_queryset(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows records and never changes them (audit events, sync runs, synced data)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
