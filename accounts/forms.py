"""Forms of sign-in, two-factor and passwords."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiTokenScope
from core.emails import InvalidEmail, normalize_email
from core.timezones import time_zone_choices


class EmailForm(forms.Form):
    """Step one of sign-in: the address only."""

    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username", "inputmode": "email"}),
    )

    def clean_email(self) -> str:
        value = self.cleaned_data["email"]
        try:
            normalize_email(value)
        except InvalidEmail as exc:
            raise forms.ValidationError(gettext("Enter your email address, e.g. name@company.example.")) from exc
        return value.strip()


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autofocus": True,
                                                                       "autocomplete": "current-password"})
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9 ]*"}),
        help_text=_("The 6-digit code from your authenticator app, or one of your 8-digit backup codes."),
    )



def _code_field(label, help_text: str = "", *, autofocus: bool = False) -> forms.CharField:
    attrs = {"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
    if autofocus:
        attrs["autofocus"] = True
    return forms.CharField(label=label, max_length=16, help_text=help_text, widget=forms.TextInput(attrs=attrs))


CURRENT_FACTOR_HELP = _("A code from the authenticator app you use now, or one of your unused backup codes.")


class CurrentFactorForm(forms.Form):
    """The person's current second factor, asked before their backup codes are replaced."""

    current = _code_field(_("Current code"), CURRENT_FACTOR_HELP, autofocus=True)


class ReplaceAuthenticatorForm(forms.Form):
    """A code of the new authenticator app, and one of the current second factor it replaces."""

    token = _code_field(_("Code from the new app"), autofocus=True)
    current = _code_field(_("Current code"), CURRENT_FACTOR_HELP)


class PasskeyNameForm(forms.Form):
    """The name a new passkey is listed under (the ceremony itself runs in the browser: static/js/passkeys.js)."""

    name = forms.CharField(
        label=_("Name of the passkey"), max_length=64, required=False,
        help_text=_("So that you can tell your passkeys apart, e.g. “Laptop” or “Blue security key”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PasskeyRemoveForm(forms.Form):
    """Removing a passkey: a current code, unless the person signed in a moment ago."""

    current = _code_field(_("Current code"), CURRENT_FACTOR_HELP)

    def __init__(self, *args, code_needed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["current"].required = code_needed


class ResetCodeForm(forms.Form):
    """The code of a password-reset mail, where the link's script could not hand it over."""

    code = forms.CharField(
        label=_("Code from the mail"), max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )


class _PasswordAloneSaved:
    """Django's password forms save the whole user row as it was read when the request began: a deactivation (or a
    directory's offboarding) committed while the new password was being hashed would be written back undone, and
    the session kept. Only the password is saved."""

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        if commit:
            user.save(update_fields=["password"])
        return user


class PortalSetPasswordForm(_PasswordAloneSaved, SetPasswordForm):
    """A new password from a reset link (Django's validators apply)."""


class PortalPasswordChangeForm(_PasswordAloneSaved, PasswordChangeForm):
    """A new password given the current one (Django's validators apply)."""


class TimeZoneForm(forms.Form):
    """The zone the person's times are shown in: a place in a group per area, with its offset now."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Every time in the portal and in the mails you get is shown in this zone."),
    )

    def __init__(self, *args, current: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(current=current)
        self.fields["time_zone"].initial = current or "UTC"


class LanguageForm(forms.Form):
    """The language of the person's pages and mails (each language named in itself), and the page to go back to."""

    language = forms.ChoiceField(
        label=_("Language"), choices=settings.LANGUAGES,
        help_text=_("The portal's pages and the mails you get are in this language."),
        error_messages={"invalid_choice": _("Choose one of the languages offered.")},
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class ApiTokenForm(forms.Form):
    """A new API token: what it is for, what it may do, how long it lives."""

    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("What the token is for, e.g. the script or system using it."))
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiTokenScope.choices, initial=ApiTokenScope.READ,
                              help_text=_("Read only, or read and write (submit lists, decide, resend, offboard)."))
    days = forms.TypedChoiceField(
        label=_("Expires after"), coerce=int, initial=90,
        choices=[(30, _("30 days")), (90, _("90 days")), (180, _("180 days")), (365, _("1 year"))],
    )
