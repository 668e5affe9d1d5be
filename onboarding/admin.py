"""Admin for portal-user requests, their items and invites, with actions that call the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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
from onboarding.selectors.outcomes import decision_outcomes, decision_outcomes_kept
from onboarding.services.invites import invite_create, invite_resend, invite_revoke
from onboarding.services.requests import MAX_ROWS
from onboarding.services.review import Decided, request_items_approve, request_items_reject
from partners.models import Partner


def _each(modeladmin, request, queryset, service, done: str) -> None:
    """Run a service per selected object; report successes (`done`, formatted with their {count}) and refusals (with
    their reasons)."""
    count = 0
    for obj in queryset:
        try:
            with conflicts_refused():
                service(obj)
            count += 1
        except REFUSED as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
    if count:
        modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)


def _person_filter(term: str, typed: str) -> Q:
    """Items or invites by address (normalised, exact or its beginning) or by the beginning of the name."""
    if "@" in term:
        return Q(email__startswith=term)
    return Q(email__startswith=term) | Q(name__istartswith=typed)


# What the review services own on an item: its lifecycle, who decided and why, its account. A change page that
# wrote them would skip the services' checks, mails and audit events.
ITEM_LIFECYCLE_FIELDS = ("state", "check_result", "suggested_email", "rejection_reason", "decided_by", "decided_at",
                         "awaiting_until", "user")
# And, once an item exists, whose list it is on and the address it was checked under (its domain, its duplicates).
ITEM_SUBMITTED_FIELDS = ("request", "partner", "display_email", "role")


class RequestItemInline(admin.TabularInline):
    model = RequestItem
    formset = BoundedInlineFormSet  # a list may hold 1,000 people: the page shows the first ones
    extra = 0
    fields = ("name", "display_email", "state", "check_result", "suggested_email", "decided_by", "decided_at")
    readonly_fields = ("display_email", "state", "check_result", "suggested_email", "decided_by", "decided_at")
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # people join a list through request_submit (its checks), not as a row added here

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("decided_by")


@admin.register(PortalUserRequest)
class PortalUserRequestAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("id", "partner", "submitted_by", "source", "submitted_at")
    list_filter = ("source", "partner__kind", ("submitted_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "submitted_by")
    search_fields = ("items__email", "partner__name", "submitted_by__email")
    search_help_text = _("An address on the list or of its sender (or its beginning), or the partner's name.")
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

    @admin.display(description=_("Items"))
    def items_note(self, obj: PortalUserRequest) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:onboarding_requestitem_changelist") + f"?request__id__exact={obj.pk}"
        return inline_overflow_note(total=obj.items.count(), shown=BoundedInlineFormSet.max_shown, url=url,
                                    noun="item(s)")


class RejectForm(forms.Form):
    """The reason of a rejection; the service says what it must be (one line, not empty)."""

    # Not required and not stripped here: the service's own message refuses an empty reason.
    reason = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 80}),
                             help_text=_("The requesters get it by mail: one line of text."))


@admin.register(RequestItem)
class RequestItemAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("name", "display_email", "partner", "state", "check_result", "decided_at", "updated_at")
    list_filter = ("state", "check_result", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "name")
    search_help_text = _("An address (any case) or its beginning, or the beginning of the name.")
    ordering = ("-pk",)  # newest first, on the primary key's index
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ("email", "created_at", "updated_at")
    raw_id_fields = ("request", "decided_by", "user")
    autocomplete_fields = ("partner",)
    actions = ("approve", "reject")

    def search_filter(self, term: str, typed: str) -> Q:
        return _person_filter(term, typed)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return (*self.readonly_fields, *ITEM_LIFECYCLE_FIELDS)
        # Only the name stays editable: a label of the person as listed, which no check, state or mail after the
        # decision depends on (the account keeps its own name). Everything else is the services', through the actions.
        return (*self.readonly_fields, *ITEM_SUBMITTED_FIELDS, *ITEM_LIFECYCLE_FIELDS)

    @staticmethod
    def _chosen(queryset) -> list[int]:
        """The chosen ids, oldest first, up to one more than a list's worth: at most a list's worth is decided at
        once (one transaction locks them all), so "select all" over the whole table decides the oldest."""
        return list(queryset.order_by("pk").values_list("pk", flat=True)[:MAX_ROWS + 1])

    def _report(self, request, decided: Decided, done: str, *, more: bool) -> TemplateResponse | None:
        """Say what the action did (`done` is formatted with the {count} decided) and, when it decided anyone, show
        each person's outcome as the review queue does: invited, account created, waiting for the directory and
        until when, an alias with the primary address to use, rejected with the reason."""
        if more:
            self.message_user(request, gettext("The first {limit} chosen were decided; run the action again for the "
                                               "rest.").format(limit=MAX_ROWS), messages.WARNING)
        for item, why in decided.refused:
            self.message_user(request, f"{item}: {why}", messages.ERROR)
        if not decided.done:
            return None
        self.message_user(request, done.format(count=len(decided.done)), messages.SUCCESS)
        return TemplateResponse(request, "admin/onboarding/requestitem/decision_outcome.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Request items decided"),
            "opts": self.model._meta,
            "outcome": decision_outcomes(user=request.user, kept=decision_outcomes_kept(decided.done)),
        })

    @admin.action(description=_("Approve (resellers: account and welcome mail; MSPs: recipient validation)"),
                  permissions=["change"])
    def approve(self, request, queryset):
        # Set-wise, as the review queue decides: a page of 100 chosen is one decision, not 100.
        chosen = self._chosen(queryset)
        ids, more = chosen[:MAX_ROWS], len(chosen) > MAX_ROWS
        try:
            with conflicts_refused():
                decided = request_items_approve(item_ids=ids, actor=request.user, request=request)
        except REFUSED as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        return self._report(request, decided, gettext("{count} approved."), more=more)

    @admin.action(description=_("Reject (asks for the reason the requesters are mailed)"), permissions=["change"])
    def reject(self, request, queryset):
        # Django's confirmation pattern: the first post (from the list) shows the reason form; the second ("post")
        # decides. The chosen ids travel as _selected_action.
        form = RejectForm(request.POST if request.POST.get("post") else None)
        chosen = self._chosen(queryset)
        ids, more = chosen[:MAX_ROWS], len(chosen) > MAX_ROWS
        if form.is_bound and form.is_valid():
            try:
                with conflicts_refused():
                    decided = request_items_reject(item_ids=ids, actor=request.user,
                                                   reason=form.cleaned_data["reason"], request=request)
            except REFUSED as exc:
                form.add_error("reason", str(exc))  # nothing changed: a refusal rolls the whole decision back
            else:
                return self._report(request, decided, gettext("{count} rejected."), more=more)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject the chosen people"),
            "opts": self.model._meta,
            "form": form,
            # One more than is decided, so that the second post still knows some were left for another run.
            "chosen": chosen,
            "count": len(ids),
            "more": more,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/onboarding/requestitem/reject_selected.html", context)


class InviteAddForm(forms.ModelForm):
    """Who to invite, for which partner: the invite service creates the invite and its person and queues the mail.

    The service runs in full_clean, after every field is valid, so that a refusal (an open invite already, an
    address with access elsewhere, a concurrent change) is a form error and nothing is saved; the admin's own save
    then has nothing left to do (InviteAdmin.save_form)."""

    admin_request = None  # set per request by InviteAdmin.get_form

    class Meta:
        model = Invite
        fields = ("partner", "kind", "name", "display_email")

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self._errors:
            return
        data = self.cleaned_data
        try:
            # A savepoint: a refusal from the database (a concurrent invite) leaves the admin's transaction usable.
            with transaction.atomic(), conflicts_refused():
                self.instance = invite_create(partner=data["partner"], email=data["display_email"], name=data["name"],
                                              kind=data["kind"], actor=self.admin_request.user,
                                              request=self.admin_request)
        except REFUSED as exc:
            self.add_error(None, str(exc))


@admin.register(Invite)
class InviteAdmin(IndexedSearchMixin, AuditedAdmin):
    list_display = ("display_email", "partner", "kind", "state", "expires_at", "sent_at", "send_attempts", "error")
    list_filter = ("state", "kind", "partner__kind", "partner")
    list_select_related = ("partner",)
    search_fields = ("email", "name")
    search_help_text = _("An address (any case) or its beginning, or the beginning of the name.")
    ordering = ("-pk",)  # newest first, on the primary key's index
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The token exists only as a hash and is never shown, not even hashed; nor the nonce it is derived from.
    exclude = ("token_hash", "token_nonce")
    raw_id_fields = ("item", "user")
    autocomplete_fields = ("partner",)
    actions = ("resend", "revoke")
    add_fields = ("partner", "kind", "name", "display_email")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Every field of an invite is its services' (create, send, resend, revoke, accept): the change page shows
        # them; the resend and revoke actions change them.
        return tuple(f.name for f in Invite._meta.fields if f.name not in self.exclude and f.name != "id")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, **{**kwargs, "form": InviteAddForm})
        form.admin_request = request
        return form

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        return form.instance  # created by invite_create in the form's validation

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def search_filter(self, term: str, typed: str) -> Q:
        return _person_filter(term, typed)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "created_by")

    @admin.display(description=_("last error"))
    def error(self, invite: Invite) -> str:
        return Truncator(invite.last_error).chars(80)

    @admin.action(description=_("Resend (new link, fresh expiry; the old link stops working)"), permissions=["change"])
    def resend(self, request, queryset):
        _each(self, request, queryset, lambda invite: invite_resend(invite=invite, actor=request.user, request=request),
              gettext("{count} resent."))

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request, queryset):
        _each(self, request, queryset, lambda invite: invite_revoke(invite=invite, actor=request.user, request=request),
              gettext("{count} revoked."))
