"""Admin for partners: their account settings (secrets write-only), mail domains and agreements."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminFileWidget
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from core.admin_utils import AuditedAdmin, WriteOnlySecretsForm
from partners.documents import document_require_pdf
from partners.errors import DOCUMENT_MISSING, DOCUMENT_NOT_PDF_KEPT
from partners.models import AccountDomain, AccountSettings, Agreement, DocumentProblem, Partner

DOCUMENT_PROBLEMS = {DocumentProblem.NOT_PDF: DOCUMENT_NOT_PDF_KEPT, DocumentProblem.MISSING: DOCUMENT_MISSING}


@admin.display(description="Document problem")
def document_problem_note(agreement: Agreement) -> str:
    """Why a stored document is not served, and what to do (empty for a good one)."""
    return DOCUMENT_PROBLEMS.get(agreement.document_problem, "")


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


class StoredDocument:
    """What the file box shows of a stored document: its download name, linked to the download view if served."""

    def __init__(self, agreement: Agreement):
        self.agreement = agreement
        self.url = (
            reverse("partners:agreement_document", args=[agreement.pk]) if agreement.has_document else ""
        )

    def __str__(self) -> str:
        return self.agreement.document_filename


class AgreementDocumentInput(AdminFileWidget):
    """The admin's file box for an agreement: the stored PDF links to partners:agreement_document, never
    to a storage URL (private storage has none); a document that failed the check says why instead."""

    template_name = "partners/widgets/agreement_document_input.html"

    def is_initial(self, value) -> bool:
        return bool(value and getattr(value, "instance", None) is not None and value.instance.pk)

    def format_value(self, value):
        return StoredDocument(value.instance) if self.is_initial(value) else None


class AgreementForm(forms.ModelForm):
    """An agreement with its signed PDF: a new upload must be a PDF by content, whatever its name."""

    class Meta:
        model = Agreement
        fields = ("partner", "version", "signed_at", "signed_by_name", "signed_by_email", "valid_until", "document")
        # The browser offers PDFs first; the check is on the server, by content.
        widgets = {"document": AgreementDocumentInput(attrs={"accept": "application/pdf,.pdf"})}
        help_texts = {"document": "The signed agreement as a PDF. It is stored privately under a random name."}

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):  # a new upload (False: cleared; a stored file: kept)
            document_require_pdf(file=document)
        return document

    def clean(self):
        cleaned = super().clean()
        if "document" in self.changed_data and not self.errors.get("document"):
            # A new or removed document leaves nothing of the old one's problem behind.
            self.instance.document_problem = ""
        return cleaned


class AgreementInline(admin.TabularInline):
    model = Agreement
    form = AgreementForm
    extra = 0
    fields = ("version", "signed_at", "signed_by_name", "valid_until", "document", document_problem_note)
    readonly_fields = (document_problem_note,)
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
    form = AgreementForm
    list_display = ("partner", "version", "signed_at", "signed_by_name", "valid_until", "recorded_by")
    list_filter = ("partner__kind", ("signed_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "recorded_by")
    search_fields = ("partner__name", "version", "signed_by_name", "signed_by_email")
    autocomplete_fields = ("partner",)
    readonly_fields = (document_problem_note, "recorded_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
