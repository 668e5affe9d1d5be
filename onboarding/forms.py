"""Forms of onboarding: the list of people (rows and CSV), decisions and the invitation code."""

from django import forms

from onboarding.errors import INVITE_CODE_MISSING

ROWS = 5


class PersonRowForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    email = forms.CharField(
        max_length=254, required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
    )


PersonRowFormSet = forms.formset_factory(PersonRowForm, extra=ROWS, max_num=1000, validate_max=True)


class ListDetailsForm(forms.Form):
    # One line: the note is shown with the list and must hold no line breaks (see onboarding.validators).
    note = forms.CharField(required=False, max_length=2000)
    received_from = forms.EmailField(
        required=False, label="Received by email from",
        help_text="For a list the partner sent you: who sent it.",
    )


class CsvListForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="Columns: name, email (header row required).")
    note = forms.CharField(required=False, max_length=2000)
    received_from = forms.EmailField(required=False, label="Received by email from")



class InviteCodeForm(forms.Form):
    """The invitation code: posted by the link's page script from the fragment, or pasted from the mail."""

    code = forms.CharField(
        label="Invitation code", max_length=100, strip=True, error_messages={"required": INVITE_CODE_MISSING},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
