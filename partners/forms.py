"""The partner-facing form of partners: accepting an agreement version in the portal."""

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.services.agreements import SIGNER_FIELD_MAX


class AgreementAcceptForm(forms.Form):
    """What an authorised signer types to accept the version shown; the version and its document's SHA-256 ride
    along so that a page opened before a newer version (or another document) is refused, not signed."""

    version_id = forms.IntegerField(widget=forms.HiddenInput)
    document_sha256 = forms.CharField(max_length=64, widget=forms.HiddenInput)
    full_name = forms.CharField(label=_("Your full name"), max_length=SIGNER_FIELD_MAX,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    title = forms.CharField(label=_("Your title"), max_length=SIGNER_FIELD_MAX,
                            widget=forms.TextInput(attrs={"autocomplete": "organization-title"}))
    confirmed = forms.BooleanField(
        label=_("I accept this agreement on behalf of my company, and I am authorised to do so."),
        error_messages={"required": _("Tick “I accept” to accept the agreement.")},
    )
