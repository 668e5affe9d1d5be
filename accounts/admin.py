"""Admin for portal users."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice as LegacyStaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice as LegacyTOTPDevice

from accounts.errors import AccessRefused
from accounts.models import PARTNER_ROLES, ApiToken, User
from accounts.services.access import user_deactivate, user_reactivate
from accounts.services.api_tokens import api_token_revoke
from accounts.services.signin import signin_unlock
from accounts.services.two_factor import two_factor_reset
from core.admin_utils import AuditedAdmin
from core.conflicts import conflicts_refused
from core.errors import ConcurrentChange


class PortalUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("display_email", "full_name", "role", "partner")


class PortalUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, type[forms.Field]] = {}


# django-otp's own device pages show and accept TOTP keys and backup codes in clear. The portal's
# devices are accounts' (key encrypted, codes hashed) and are not administered one by one: an admin
# resets a person's second factor with the action below.
for _legacy in (LegacyTOTPDevice, LegacyStaticDevice):
    if admin.site.is_registered(_legacy):
        admin.site.unregister(_legacy)


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    list_display = ("display_email", "full_name", "role", "partner", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "display_email", "full_name")
    ordering = ("email",)
    readonly_fields = ("email", "last_login", "date_joined")
    raw_id_fields = ("directory_user",)
    autocomplete_fields = ("partner",)
    fieldsets = (
        (None, {"fields": ("display_email", "email", "password")}),
        (_("Person"), {"fields": ("full_name", "role", "partner", "directory_user", "language", "time_zone")}),
        (_("Access"), {"fields": ("is_active", "access_ended", "access_ended_at", "is_staff", "is_superuser", "groups",
                               "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined", "two_factor_required_since")}),
    )
    actions = ("unlock_sign_in", "reset_two_factor", "deactivate_access", "reactivate_access")

    def get_readonly_fields(self, request, obj=None):
        # Access starts with an accepted invitation and changes through the actions (audited, sessions ended),
        # never by ticking a box.
        fields = super().get_readonly_fields(request, obj)
        if obj is None:
            return fields
        # A partner's people change role on its People with access page (the last partner admin kept, audited).
        partner_person = ("role", "partner") if obj.role in PARTNER_ROLES else ()
        return (*fields, "is_active", "access_ended", "access_ended_at", *partner_person)

    @admin.action(description=_("Deactivate (ends their sessions at once)"), permissions=["change"])
    def deactivate_access(self, request, queryset):
        done = self._each(request, queryset, user_deactivate)
        self.message_user(request, gettext("{count} person(s) deactivated; their sessions have ended.").format(
            count=done))

    @admin.action(description=_("Reactivate"), permissions=["change"])
    def reactivate_access(self, request, queryset):
        done = self._each(request, queryset, user_reactivate)
        self.message_user(request, gettext("{count} person(s) reactivated.").format(count=done))

    @admin.action(description=_("Unlock sign-in (clear failed attempts)"), permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        done = self._each(request, queryset, signin_unlock)
        self.message_user(request, gettext("Sign-in unlocked for {count} person(s).").format(count=done))

    @admin.action(description=_("Reset two-factor (they enrol again at next sign-in)"), permissions=["change"])
    def reset_two_factor(self, request, queryset):
        done = self._each(request, queryset, two_factor_reset)
        self.message_user(
            request, gettext("Two-factor reset for {count} person(s); each of them has been mailed.").format(count=done)
        )

    def _each(self, request, queryset, service) -> int:
        """Call the service per person; a conflict with a concurrent change is reported, never a server error."""
        done = 0
        for user in queryset:
            try:
                with conflicts_refused():
                    service(user=user, actor=request.user, request=request)
                done += 1
            except (ConcurrentChange, AccessRefused) as exc:
                self.message_user(request, f"{user}: {exc}", messages.ERROR)
        return done

    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("display_email", "full_name", "role", "partner",
                                                  "usable_password", "password1", "password2")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every person's API tokens, to see what is in use and revoke one; a token is made by its own person on their
    Security page (it is shown to them once), never here."""

    list_display = ("name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__email")
    ordering = ("-created_at", "-id")
    readonly_fields = ("user", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "last_used_ip",
                       "revoked_at")
    fields = readonly_fields
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, not deleted: the audit trail and the list keep it

    @admin.action(description=_("Revoke (stops working at once)"), permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token, actor=request.user, request=request)
        self.message_user(request, gettext("{count} token(s) revoked.").format(count=queryset.count()))
