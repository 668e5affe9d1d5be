"""Forms of a CSV-sourced account's directory people: one person, and a change file (upload, then apply)."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

ADDRESS_LIST_HELP = _("Several addresses may be separated by commas, semicolons, spaces or new lines.")


def split_addresses(value: str) -> list[str]:
    """The addresses of a list field, as the CSV files separate them."""
    return [part for part in re.split(r"[;,\s]+", value.strip()) if part]


class DirectoryPersonForm(forms.Form):
    """One person of the account: name, primary address, aliases and forwarding addresses (and, once added,
    whether they are active)."""

    name = forms.CharField(label=_("Name"), max_length=300, required=False,
                           help_text=_("Empty: the primary address is shown instead."))
    primary = forms.CharField(
        label=_("Primary address"), max_length=254,
        help_text=_("The only address that can sign in or be invited."),
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
        error_messages={"required": _("A primary address is needed.")},
    )
    aliases = forms.CharField(label=_("Aliases"), required=False, max_length=5000, help_text=ADDRESS_LIST_HELP,
                              widget=forms.Textarea(attrs={"rows": 2}))
    forwarding = forms.CharField(label=_("Forwarding addresses"), required=False, max_length=5000,
                                 help_text=ADDRESS_LIST_HELP, widget=forms.Textarea(attrs={"rows": 2}))
    active = forms.BooleanField(
        label=_("Active"), required=False, initial=True,
        help_text=_("A disabled person stays on the account but cannot sign in or be invited."),
    )

    def __init__(self, *args, with_active: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_active:
            del self.fields["active"]  # a person is added active

    def cleaned_lists(self) -> dict:
        """The service's arguments: the address lists split."""
        data = self.cleaned_data
        return {"name": data["name"], "primary": data["primary"], "aliases": split_addresses(data["aliases"]),
                "forwarding": split_addresses(data["forwarding"])}


class ChangeFileForm(forms.Form):
    file = forms.FileField(label=_("Change file (CSV)"),
                           error_messages={"required": _("Choose a change file to upload.")})


class ChangeFileApplyForm(forms.Form):
    """The checked file, posted back from its preview to be applied (checked again: nothing is trusted)."""

    content = forms.CharField(widget=forms.HiddenInput, strip=False)
    force = forms.BooleanField(label=_("Apply it although the brake refuses it"), required=False)
