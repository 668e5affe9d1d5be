"""Forms of sign-in, two-factor and passwords."""

from django import forms

from core.emails import InvalidEmail, normalize_email


class EmailForm(forms.Form):
    """Step one of sign-in: the address only."""

    email = forms.CharField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username", "inputmode": "email"}),
    )

    def clean_email(self) -> str:
        value = self.cleaned_data["email"]
        try:
            normalize_email(value)
        except InvalidEmail as exc:
            raise forms.ValidationError("Enter your email address, e.g. name@company.example.") from exc
        return value.strip()


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autofocus": True,
                                                                       "autocomplete": "current-password"})
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9 ]*"}),
        help_text="The 6-digit code from your authenticator app, or one of your 8-digit backup codes.",
    )

