"""Forms of onboarding: the list of people (rows and CSV) and decisions."""

from django import forms

ROWS = 5


class PersonRowForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    email = forms.CharField(
        max_length=254, required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
    )


PersonRowFormSet = forms.formset_factory(PersonRowForm, extra=ROWS, max_num=1000, validate_max=True)


class ListDetailsForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    received_from = forms.EmailField(
        required=False, label="Received by email from",
        help_text="For a list the partner sent you: who sent it.",
    )


class CsvListForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="Columns: name, email (header row required).")
    note = forms.CharField(required=False, max_length=2000)
    received_from = forms.EmailField(required=False, label="Received by email from")

