"""Admin for partners: their account settings (secrets write-only), mail domains and agreements."""

from django import forms
from django.contrib import admin

from core.admin_utils import AuditedAdmin, WriteOnlySecretsForm
from partners.models import AccountDomain, AccountSettings, Agreement, Partner


class AccountSettingsForm(WriteOnlySecretsForm):
    secret_fields = ("sso_client_secret",)
    sso_client_secret_clear = forms.BooleanField(required=False, label="Remove the stored client secret")

    class Meta:
        model = AccountSettings
        fields = "__all__"


class AccountSettingsInline(admin.StackedInline):
    model = AccountSettings
    form = AccountSettingsForm
    can_delete = False
    fieldsets = (
        ("Sign-in", {"fields": ("auth_method", "self_service_reset", "reset_contact")}),
        ("Two-factor", {"fields": ("two_factor_policy", "two_factor_grace_days")}),
        ("Single sign-on (OpenID Connect)", {
            "fields": ("sso_issuer", "sso_client_id", "sso_client_secret", "sso_client_secret_clear", "sso_scopes",
                       "sso_enforced"),
        }),
    )


class AccountDomainInline(admin.TabularInline):
    model = AccountDomain
    extra = 0


class AgreementInline(admin.TabularInline):
    model = Agreement
    extra = 0
    fields = ("version", "signed_at", "signed_by_name", "valid_until", "document")
    show_change_link = True


@admin.register(Partner)
class PartnerAdmin(AuditedAdmin):
    list_display = ("name", "slug", "kind", "account_manager", "is_active", "created_at")
    list_filter = ("kind", "is_active", "account_manager")
    list_select_related = ("account_manager",)
    search_fields = ("name", "slug", "domains__domain")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (AccountSettingsInline, AccountDomainInline, AgreementInline)

    def audit_partner(self, obj):
        return obj


@admin.register(Agreement)
class AgreementAdmin(AuditedAdmin):
    list_display = ("partner", "version", "signed_at", "signed_by_name", "valid_until", "recorded_by")
    list_filter = ("partner__kind", ("signed_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "recorded_by")
    search_fields = ("partner__name", "version", "signed_by_name", "signed_by_email")
    autocomplete_fields = ("partner",)
    readonly_fields = ("recorded_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
