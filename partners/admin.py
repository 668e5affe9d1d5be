"""Admin for partners: their account settings (secrets write-only, SAML metadata checked before it is kept), mail
domains, authorised signers, agreements and the agreement versions published for each kind of partner."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminFileWidget
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin_utils import AuditedAdmin, WriteOnlySecretsForm
from core.conflicts import conflicts_refused
from core.errors import PortalError
from partners.documents import document_require_pdf
from partners.errors import DOCUMENT_MISSING, DOCUMENT_NOT_PDF_KEPT
from partners.models import (
    AccountDomain,
    AccountSettings,
    Agreement,
    AgreementVersion,
    AuthMethod,
    DocumentProblem,
    Partner,
    SignedVia,
    SsoProtocol,
)
from partners.selectors import ROLE_PARTNER_ADMIN, saml_service_provider
from partners.services import agreement_record, agreement_signer_set, agreement_version_publish
from partners.services.saml import (
    METADATA_NOT_XML,
    METADATA_TOO_LARGE,
    SamlMetadataInvalid,
    saml_idp_metadata_check,
    saml_idp_metadata_fetch,
)

DOCUMENT_PROBLEMS = {DocumentProblem.NOT_PDF: DOCUMENT_NOT_PDF_KEPT, DocumentProblem.MISSING: DOCUMENT_MISSING}


@admin.display(description=_("Document problem"))
def document_problem_note(agreement: Agreement) -> str:
    """Why a stored document is not served, and what to do (empty for a good one)."""
    return DOCUMENT_PROBLEMS.get(agreement.document_problem, "")


class AccountSettingsForm(WriteOnlySecretsForm):
    """Account settings. SAML metadata, uploaded or fetched from its URL when that changes, must describe a usable
    identity provider before anything is saved; the copy kept is what sign-in uses (refreshed daily from a URL)."""

    secret_fields = ("sso_client_secret",)
    sso_client_secret_clear = forms.BooleanField(required=False, label=_("Remove the stored client secret"))
    saml_idp_metadata_file = forms.FileField(
        required=False, label=_("Upload identity provider metadata"),
        help_text=_("An XML file from your identity provider; it replaces the stored metadata. Use it instead of a "
                    "metadata URL."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,application/xml,text/xml,application/samlmetadata+xml"}),
    )

    class Meta:
        model = AccountSettings
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "sso_protocol" in self.fields:
            self.fields["sso_protocol"].required = False  # not sent: the protocol stays as it is

    def clean_sso_protocol(self):
        return self.cleaned_data.get("sso_protocol") or self.instance.sso_protocol or SsoProtocol.OIDC

    def clean(self):
        cleaned = super().clean()
        xml, field = self._saml_metadata_new(cleaned)
        entity_id = cleaned.get("saml_idp_entity_id", "")
        if xml is None and self.instance.saml_idp_metadata_xml and "saml_idp_entity_id" in self.changed_data:
            xml, field = self.instance.saml_idp_metadata_xml, "saml_idp_entity_id"  # another provider of the copy
        if xml is not None:
            try:
                saml_idp_metadata_check(xml=xml, entity_id=entity_id)
            except SamlMetadataInvalid as exc:
                self.add_error(field, str(exc))
                return cleaned
            self.instance.saml_idp_metadata_xml = xml
        # The constraint account_sso_needs_provider spans the stored metadata, which is not a field of this form,
        # so Django skips it when validating: its rule is checked here instead of failing at the database.
        sso, protocol = cleaned.get("auth_method") == AuthMethod.SSO, cleaned.get("sso_protocol")
        if sso and protocol == SsoProtocol.SAML and not self.instance.saml_idp_metadata_xml and not self.errors:
            self.add_error("saml_idp_metadata_url", _("SAML single sign-on needs the identity provider's metadata: "
                                                      "enter its URL or upload the file."))
        if sso and protocol == SsoProtocol.OIDC and not (cleaned.get("sso_issuer") and cleaned.get("sso_client_id")):
            self.add_error("sso_issuer", _("OpenID Connect single sign-on needs the issuer and the client ID."))
        return cleaned

    def _saml_metadata_new(self, cleaned) -> tuple[str | None, str]:
        """New metadata from this save (an upload, or the URL when it is new), and the field to blame; (None, "")
        when there is none, or when it could not be read (the error is on the form)."""
        upload, url = cleaned.get("saml_idp_metadata_file"), cleaned.get("saml_idp_metadata_url")
        if upload and url:
            self.add_error("saml_idp_metadata_file", _("Either enter a metadata URL or upload a file, not both: "
                                                       "the URL would replace the file at its next refresh."))
            return None, ""
        if upload:
            limit = settings.SAML_METADATA_MAX_BYTES
            raw = upload.read(limit + 1)
            if len(raw) > limit:
                self.add_error("saml_idp_metadata_file", METADATA_TOO_LARGE.format(size=limit // 2**20))
                return None, ""
            try:
                return raw.decode("utf-8-sig"), "saml_idp_metadata_file"
            except UnicodeDecodeError:
                self.add_error("saml_idp_metadata_file", METADATA_NOT_XML)
                return None, ""
        if url and ("saml_idp_metadata_url" in self.changed_data or not self.instance.saml_idp_metadata_xml):
            try:
                return saml_idp_metadata_fetch(url=url), "saml_idp_metadata_url"
            except SamlMetadataInvalid as exc:
                self.add_error("saml_idp_metadata_url", str(exc))
        return None, ""


def _service_provider_value(account: AccountSettings | None, attribute: str) -> str:
    """One of the portal's SAML values for the account, as a link to copy into the identity provider."""
    if account is None or not account.partner_id:
        return _("Save the partner first.")
    url = getattr(saml_service_provider(account.partner), attribute)
    return format_html('<a href="{}">{}</a>', url, url)


class AccountSettingsInline(admin.StackedInline):
    model = AccountSettings
    form = AccountSettingsForm
    can_delete = False
    readonly_fields = ("saml_idp_metadata_summary", "saml_sp_entity_id", "saml_sp_acs_url", "saml_sp_metadata_url")
    fieldsets = (
        (_("Sign-in"), {"fields": ("auth_method", "self_service_reset", "reset_contact")}),
        (_("Two-factor"), {"fields": ("two_factor_policy", "two_factor_grace_days", "two_factor_phishing_resistant")}),
        (_("Single sign-on"), {"fields": ("sso_protocol", "sso_enforced")}),
        (_("OpenID Connect"), {
            "fields": ("sso_issuer", "sso_client_id", "sso_client_secret", "sso_client_secret_clear", "sso_scopes"),
        }),
        (_("SAML 2.0"), {
            "description": _("Give your identity provider the portal's entity ID and reply (ACS) URL below, or its "
                             "metadata URL, and have it send the person's email address."),
            "fields": ("saml_idp_metadata_url", "saml_idp_metadata_file", "saml_idp_metadata_summary",
                       "saml_idp_entity_id", "saml_email_attribute", "saml_want_assertions_signed",
                       "saml_sp_entity_id", "saml_sp_acs_url", "saml_sp_metadata_url"),
        }),
    )

    @admin.display(description=_("Stored identity provider metadata"))
    def saml_idp_metadata_summary(self, account: AccountSettings | None) -> str:
        if account is None or not account.saml_idp_metadata_xml:
            return _("None yet.")
        try:
            idp = saml_idp_metadata_check(xml=account.saml_idp_metadata_xml, entity_id=account.saml_idp_entity_id)
        except SamlMetadataInvalid as exc:
            return str(exc)
        return format_html("{}<br>{}", _("Entity ID: {entity_id}").format(entity_id=idp.entity_id),
                           _("Sign-in address: {url}").format(url=idp.sso_url))

    @admin.display(description=_("Portal entity ID (identifier)"))
    def saml_sp_entity_id(self, account: AccountSettings | None) -> str:
        return _service_provider_value(account, "entity_id")

    @admin.display(description=_("Portal reply URL (assertion consumer service)"))
    def saml_sp_acs_url(self, account: AccountSettings | None) -> str:
        return _service_provider_value(account, "acs_url")

    @admin.display(description=_("Portal metadata URL"))
    def saml_sp_metadata_url(self, account: AccountSettings | None) -> str:
        return _service_provider_value(account, "metadata_url")


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
        fields = ("partner", "agreement_version", "version", "signed_at", "signed_by_name", "signed_by_title",
                  "signed_by_email", "valid_until", "document")
        # The browser offers PDFs first; the check is on the server, by content.
        widgets = {"document": AgreementDocumentInput(attrs={"accept": "application/pdf,.pdf"})}
        help_texts = {"document": _("The signed agreement as a PDF. It is stored privately under a random name."),
                      "version": _("The version's label; filled from the published version when one is chosen.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "version" in self.fields:
            self.fields["version"].required = False

    def clean_version(self):
        return (self.cleaned_data.get("version") or "").strip()

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):  # a new upload (False: cleared; a stored file: kept)
            document_require_pdf(file=document)
        return document

    def clean(self):
        cleaned = super().clean()
        version, partner = cleaned.get("agreement_version"), cleaned.get("partner")
        if version is not None and partner is not None and version.partner_kind != partner.kind:
            self.add_error("agreement_version", _("This version is published for another kind of partner."))
        if version is not None and not cleaned.get("version"):
            cleaned["version"] = self.instance.version = version.label
        if not cleaned.get("version") and "version" in self.fields and not self.errors.get("version"):
            self.add_error("version", _("Name the version, or choose the published version that was signed."))
        if "document" in self.changed_data and not self.errors.get("document"):
            # A new or removed document leaves nothing of the old one's problem behind.
            self.instance.document_problem = ""
        return cleaned


class AgreementInline(admin.TabularInline):
    model = Agreement
    form = AgreementForm
    extra = 0
    fields = ("version", "signed_at", "signed_by_name", "valid_until", "document", "signed_via", document_problem_note)
    readonly_fields = ("signed_via", document_problem_note)
    show_change_link = True


class PartnerForm(forms.ModelForm):
    """A partner, with its authorised signers chosen among its own active partner admins (saved through
    partners.services.agreement_signer_set, so that every change is audited)."""

    signers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label=_("Authorised signers"),
        help_text=_("Partner admins of this partner who may accept a new agreement version in the portal."),
    )

    class Meta:
        model = Partner
        fields = ("name", "slug", "kind", "account_manager", "language", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            admins = self.instance.members.filter(role=ROLE_PARTNER_ADMIN, is_active=True).order_by("email")
            self.fields["signers"].queryset = admins
            self.initial["signers"] = list(self.instance.authorised_signers.values_list("pk", flat=True))
        else:
            self.fields["signers"].help_text = _("Save the partner and add its partner admins first.")


@admin.register(Partner)
class PartnerAdmin(AuditedAdmin):
    form = PartnerForm
    list_display = ("name", "slug", "kind", "account_manager", "is_active", "created_at")
    list_filter = ("kind", "is_active", "account_manager")
    list_select_related = ("account_manager",)
    search_fields = ("name", "slug", "domains__domain")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (AccountSettingsInline, AccountDomainInline, AgreementInline)

    def audit_partner(self, obj):
        return obj

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "signers" not in form.cleaned_data or not form.instance.pk:
            return
        chosen = set(form.cleaned_data["signers"])
        current = set(form.instance.authorised_signers.all())
        try:
            with conflicts_refused():
                for user in sorted(current ^ chosen, key=lambda person: person.pk):
                    agreement_signer_set(partner=form.instance, user=user, authorised=user in chosen,
                                         actor=request.user, request=request)
        except PortalError as exc:
            messages.error(request, str(exc))

    def save_formset(self, request, form, formset, change):
        if formset.model is not Agreement:
            return super().save_formset(request, form, formset, change)
        # New agreements added here are recorded signatures, like those added on their own page.
        for agreement in formset.save(commit=False):
            if agreement.pk is None:
                agreement_record(agreement=agreement, actor=request.user, request=request)
            else:
                agreement.save()
        for agreement in formset.deleted_objects:
            agreement.delete()
        formset.save_m2m()
        return None


@admin.register(Agreement)
class AgreementAdmin(AuditedAdmin):
    form = AgreementForm
    list_display = ("partner", "version", "signed_at", "signed_by_name", "valid_until", "recorded_by")
    list_filter = ("partner__kind", ("signed_at", admin.DateFieldListFilter))
    list_select_related = ("partner", "recorded_by")
    search_fields = ("partner__name", "version", "signed_by_name", "signed_by_email")
    autocomplete_fields = ("partner",)
    readonly_fields = ("document_download", document_problem_note, "signed_via", "signed_by_user", "signed_from_ip",
                       "document_sha256", "recorded_by", "created_at")

    def get_exclude(self, request, obj=None):
        # Read-only, a stored file would be drawn as a link to its storage URL, which private storage has not:
        # the download link below stands in for it.
        if obj is not None and not self.has_change_permission(request, obj):
            return ("document",)
        return super().get_exclude(request, obj)

    @admin.display(description=_("Signed document"))
    def document_download(self, agreement: Agreement) -> str:
        if not agreement.document:
            return "none"
        if agreement.document_problem:
            return "not served: see the document problem"
        return format_html('<a href="{}">{}</a>', reverse("partners:agreement_document", args=[agreement.pk]),
                           "Download")

    def has_change_permission(self, request, obj=None):
        # An acceptance in the portal is a record of what the signer accepted (the document's hash, their name,
        # the time and address): it is never edited afterwards.
        if obj is not None and obj.signed_via == SignedVia.PORTAL:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:  # a signature made elsewhere, recorded through the service (its hash, its audit event)
            agreement_record(agreement=obj, actor=request.user, request=request)


class AgreementVersionForm(forms.ModelForm):
    """A version to publish: its document must be a PDF by content."""

    class Meta:
        model = AgreementVersion
        fields = ("partner_kind", "label", "document", "valid_for_days")
        widgets = {"document": forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"})}

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):
            document_require_pdf(file=document)
        return document


@admin.register(AgreementVersion)
class AgreementVersionAdmin(AuditedAdmin):
    """Publishing a version offers it at once to every partner of its kind; a published version never changes
    (signers accept its document's SHA-256), so its page is read-only."""

    form = AgreementVersionForm
    list_display = ("label", "partner_kind", "published_at", "valid_for_days", "published_by")
    list_filter = ("partner_kind",)
    list_select_related = ("published_by",)
    search_fields = ("label",)
    readonly_fields = ("document_link", "document_sha256", "published_at", "published_by")

    @admin.display(description=_("Document"))
    def document_link(self, version: AgreementVersion) -> str:
        url = reverse("partners:agreement_version_document", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, version.document_filename)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("partner_kind", "label", "document", "valid_for_days")
        return ("partner_kind", "label", "document_link", "document_sha256", "valid_for_days", "published_at",
                "published_by")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("partner_kind", "label", "document_link", "document_sha256", "valid_for_days", "published_at",
                "published_by")

    def has_delete_permission(self, request, obj=None):
        return False  # partners accepted it, or may be reading it now

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        try:
            with conflicts_refused():
                published = agreement_version_publish(
                    partner_kind=data["partner_kind"], label=data["label"], document=data["document"],
                    valid_for_days=data.get("valid_for_days"), actor=request.user, request=request)
        except PortalError as exc:
            raise forms.ValidationError(str(exc)) from exc
        # The admin goes on with `obj` (its change message, the redirect): make it the row the service wrote.
        obj.pk = published.pk
        obj._state.adding = False
        obj.refresh_from_db()
