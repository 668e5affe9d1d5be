"""Admin for portal-user requests, their items and invites, with actions that call the services."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.text import Truncator

from core.admin_utils import (
    AuditedAdmin,
    BoundedInlineFormSet,
    EstimatedCountPaginator,
    IndexedSearchMixin,
    inline_overflow_note,
)
from core.conflicts import conflicts_refused
from onboarding.errors import REFUSED
from onboarding.models import Invite, PortalUserRequest, RequestItem
from onboarding.services.invites import invite_resend, invite_revoke
from onboarding.services.requests import MAX_ROWS
from onboarding.services.review import request_items_approve
from partners.models import Partner


def _each(modeladmin, request, queryset, service, done: str) -> None:
    """Run a service per selected object; report successes and refusals (with their reasons)."""
    count = 0
    for obj in queryset:
        try:
            with conflicts_refused():
                service(obj)
            count += 1
        except REFUSED as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)


def _person_filter(term: str, typed: str) -> Q:
    """Items or invites by address (normalised, exact or its beginning) or by the beginning of the name."""
    if "@" in term:
        return Q(email__startswith=term)
    return Q(email__startswith=term) | Q(name__istartswith=typed)


class RequestItemInline(admin.TabularInline):
    model = RequestItem
    formset = BoundedInlineFormSet  # a list may hold 1,000 people: the page shows the first ones
    extra = 0
    fields = ("name", "display_email", "state", "check_result", "suggested_email", "decided_by", "decided_at")
    readonly_fields = ("state", "check_result", "suggested_email", "decided_by", "decided_at")
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("decided_by")


@admin.register(PortalUserRequest)
class PortalUserRequestAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("id", "partner", "submitted_by", "source", "submitted_at")
    list_filter = ("source", "partner__kind", ("submitted_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "submitted_by")
    search_fields = ("items__email", "partner__name", "submitted_by__email")
    search_help_text = "An address on the list or of its sender (or its beginning), or the partner's name."
    autocomplete_fields = ("partner",)
    raw_id_fields = ("submitted_by",)
    readonly_fields = ("items_note",)
    show_full_result_count = False
    inlines = (RequestItemInline,)

    def search_filter(self, term: str, typed: str) -> Q:
        if "@" in term:
            on_list = RequestItem.objects.filter(request=OuterRef("pk"), email__startswith=term)
            return Q(Exists(on_list)) | Q(submitted_by__email__startswith=term)
        return Q(partner__in=Partner.objects.filter(name__icontains=typed))

    @admin.display(description="Items")
    def items_note(self, obj: PortalUserRequest) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:onboarding_requestitem_changelist") + f"?request__id__exact={obj.pk}"
        return inline_overflow_note(total=obj.items.count(), shown=BoundedInlineFormSet.max_shown, url=url,
                                    noun="item(s)")


@admin.register(RequestItem)
class RequestItemAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("name", "display_email", "partner", "state", "check_result", "decided_at", "updated_at")
    list_filter = ("state", "check_result", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "name")
    search_help_text = "An address (any case) or its beginning, or the beginning of the name."
    ordering = ("-pk",)  # newest first, on the primary key's index
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ("email", "created_at", "updated_at")
    raw_id_fields = ("request", "decided_by", "user")
    autocomplete_fields = ("partner",)
    actions = ("approve",)

    def search_filter(self, term: str, typed: str) -> Q:
        return _person_filter(term, typed)

    @admin.action(description="Approve (resellers: account and welcome mail; MSPs: recipient validation)",
                  permissions=["change"])
    def approve(self, request, queryset):
        # Set-wise, as the review queue decides: a page of 100 chosen is one decision, not 100. At most a list's
        # worth at once (one transaction locks them all): "select all" over the whole table decides the oldest.
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:MAX_ROWS + 1])
        if len(ids) > MAX_ROWS:
            ids = ids[:MAX_ROWS]
            self.message_user(request, f"The first {MAX_ROWS} chosen were decided; run the action again for the rest.",
                              messages.WARNING)
        try:
            with conflicts_refused():
                decided = request_items_approve(item_ids=ids, actor=request.user, request=request)
        except REFUSED as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        for item, why in decided.refused:
            self.message_user(request, f"{item}: {why}", messages.ERROR)
        if decided.done:
            self.message_user(request, f"{len(decided.done)} approved.", messages.SUCCESS)


@admin.register(Invite)
class InviteAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("display_email", "partner", "kind", "state", "expires_at", "sent_at", "send_attempts", "error")
    list_filter = ("state", "kind", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "name")
    search_help_text = "An address (any case) or its beginning, or the beginning of the name."
    ordering = ("-pk",)  # newest first, on the primary key's index
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The token exists only as a hash and is never shown, not even hashed; nor the nonce it is derived from.
    exclude = ("token_hash", "token_nonce")
    readonly_fields = ("email", "sent_at", "send_attempts", "last_attempt_at", "next_attempt_at", "last_error",
                       "accepted_at", "revoked_at", "renewal_requested_at", "created_by", "created_at")
    raw_id_fields = ("item", "user")
    autocomplete_fields = ("partner",)
    actions = ("resend", "revoke")

    def search_filter(self, term: str, typed: str) -> Q:
        return _person_filter(term, typed)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "created_by")

    @admin.display(description="last error")
    def error(self, invite: Invite) -> str:
        return Truncator(invite.last_error).chars(80)

    @admin.action(description="Resend (new link, fresh expiry; the old link stops working)", permissions=["change"])
    def resend(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_resend(invite=invite, actor=request.user, request=request), "resent")

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request, queryset):
        _each(self, request, queryset,
              lambda invite: invite_revoke(invite=invite, actor=request.user, request=request), "revoked")
