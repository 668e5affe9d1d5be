"""Admin for partners, their account settings, agreements, requests and invites."""

from django import forms
from django.contrib import admin, messages

from onboarding.errors import OnboardingError
from onboarding.models import (
    AccountDomain,
    AccountSettings,
    Agreement,
    Invite,
    Partner,
    PortalUserRequest,
    RequestItem,
)
from onboarding.services.invites import invite_resend, invite_revoke
from onboarding.services.review import request_item_approve
from portal.admin_utils import AuditedAdmin, WriteOnlySecretsForm


def _each(modeladmin, request, queryset, service, done: str) -> None:
    """Run a service per selected object; report successes and refusals (with their reasons)."""
    count = 0
    for obj in queryset:
        try:
            service(obj)
            count += 1
        except OnboardingError as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)


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
    list_display = ("display_email", "partner", "kind", "state", "expires_at", "sent_at", "send_attempts")
    list_filter = ("state", "kind", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "display_email", "name", "partner__name")
    # The token exists only as a hash and is never shown, not even hashed.
    exclude = ("token_hash",)
    readonly_fields = ("email", "sent_at", "send_attempts", "last_error", "accepted_at", "revoked_at",
                       "renewal_requested_at", "created_by", "created_at")
    raw_id_fields = ("item", "user")
    autocomplete_fields = ("partner",)
    actions = ("resend", "revoke")

    @admin.action(description="Resend (new link, fresh expiry; the old link stops working)", permissions=["change"])
    def resend(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_resend(invite=invite, actor=request.user, request=request), "resent")

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_revoke(invite=invite, actor=request.user, request=request), "revoked")
