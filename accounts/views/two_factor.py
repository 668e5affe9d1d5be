"""Two-factor pages: enrolment with a QR code, backup codes, and the person's security page."""

import json

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import errors, selectors
from accounts.errors import SecondFactorRequired
from accounts.flow import ENROL_REQUIRED, SIGNED_IN_AT, next_after_enrolment
from accounts.forms import CurrentFactorForm, LanguageForm, ReplaceAuthenticatorForm, TimeZoneForm, TokenForm
from accounts.services import two_factor
from accounts.services.api_tokens import may_make_api_tokens
from accounts.services.passkeys import localhost_origin
from core import crypto

SESSION_DEVICE = "two_factor_pending_device"
SESSION_CODES = "two_factor_new_codes"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the key), then confirm with a code from the app.

    Someone who has an authenticator already (moving to a new phone) gives a code of their current
    second factor too: a signed-in session alone never changes a second factor.
    """
    user = request.user
    if selectors.phishing_resistant_required(user):
        # An app's codes are not accepted at sign-in for this person: their second factor is a passkey.
        return redirect("accounts:passkeys")
    device = selectors.pending_device(user=user, device_id=request.session.get(SESSION_DEVICE))
    if device is None:
        device = two_factor.enrolment_start(user=user)
        request.session[SESSION_DEVICE] = device.pk
    # Replacing an app needs a code of it; someone whose second factor is a passkey has no code to give, and adds
    # an app beside it within 15 minutes of signing in instead (the service checks both).
    replacing = selectors.has_authenticator_app(user)
    signed_in_at = request.session.get(SIGNED_IN_AT)
    sign_in_again = not replacing and selectors.has_passkey(user) and not two_factor.recent_signin(signed_in_at)
    form = (ReplaceAuthenticatorForm if replacing else TokenForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.enrolment_confirm(user=user, device=device, token=form.cleaned_data["token"],
                                                 current=form.cleaned_data.get("current", ""),
                                                 signed_in_at=signed_in_at, request=request)
        except SecondFactorRequired as exc:
            form.add_error("current" if replacing else "token", str(exc))
        else:
            if codes is not None:
                return _enrolled(request, device, codes, replaced=replacing)
            form.add_error("token", errors.NEW_APP_CODE_WRONG)
    return render(request, "accounts/two_factor_setup.html", {
        "form": form, "qr_svg": two_factor.qr_code_svg(device), "secret": two_factor.secret_text(device),
        "mandatory": bool(request.session.get(ENROL_REQUIRED)), "replacing": replacing, "sign_in_again": sign_in_again,
        "requirement": selectors.two_factor_requirement(user), "deadline": selectors.grace_deadline(user),
    })


def _enrolled(request: HttpRequest, device, codes: list[str], *, replaced: bool) -> HttpResponse:
    """The session is verified with the new app; the new backup codes are shown next, once."""
    django_otp.login(request, device)
    request.session.pop(SESSION_DEVICE, None)
    request.session.pop(ENROL_REQUIRED, None)
    _keep_codes_for_display(request, codes)
    if replaced:
        messages.success(request, errors.SECOND_FACTOR_REPLACED)
    return redirect("accounts:two_factor_backup_codes")


@never_cache
@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """Show new backup codes once; after that only their number is shown."""
    sealed = request.session.pop(SESSION_CODES, None)
    if sealed is None:
        return redirect("accounts:security")
    # A list: kept by the release before codes were sealed (a session that straddled the upgrade).
    codes = sealed if isinstance(sealed, list) else json.loads(crypto.decrypt(sealed))
    return render(request, "accounts/two_factor_backup_codes.html", {
        "codes": codes, "next_url": next_after_enrolment(request),  # an admin who enrolled at sign-in: the admin
    })


def _keep_codes_for_display(request: HttpRequest, codes: list[str]) -> None:
    """Keep new backup codes until the next page shows them, encrypted: the session is a database row too."""
    request.session[SESSION_CODES] = crypto.encrypt(json.dumps(codes))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def backup_codes_renew(request: HttpRequest) -> HttpResponse:
    """New backup codes, given a code of the current second factor (an app code or an unused backup code)."""
    if not selectors.has_authenticator_app(request.user):
        # Backup codes come with an app (a passkey alone has none to renew): setting one up makes them.
        return redirect("accounts:two_factor_setup")
    form = CurrentFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.backup_codes_regenerate(user=request.user, current=form.cleaned_data["current"],
                                                       request=request)
        except SecondFactorRequired as exc:
            form.add_error("current", str(exc))
        else:
            _keep_codes_for_display(request, codes)
            messages.success(request, errors.BACKUP_CODES_RENEWED)
            return redirect("accounts:two_factor_backup_codes")
    return render(request, "accounts/two_factor_backup_codes_renew.html", {"form": form})


@never_cache
@login_required
def security(request: HttpRequest, time_zone_form: TimeZoneForm | None = None) -> HttpResponse:
    """The person's sign-in settings: two-factor status, backup codes left, password change; their time zone and
    language."""
    user = request.user
    return render(request, "accounts/security.html", {
        "has_device": selectors.has_device(user),
        "has_app": selectors.has_authenticator_app(user),
        "passkey_count": len(selectors.passkeys_of(user)),
        "phishing_resistant": selectors.phishing_resistant_required(user),
        "localhost_origin": localhost_origin(),
        "codes_left": selectors.backup_codes_left(user),
        "requirement": selectors.two_factor_requirement(user),
        "deadline": selectors.grace_deadline(user),
        "cloud_password": selectors.may_use_cloud_password(user),
        "time_zone_form": time_zone_form or TimeZoneForm(current=user.time_zone),
        "may_make_api_tokens": may_make_api_tokens(user),
        "language_form": LanguageForm(initial={"language": translation.get_language(),
                                               "next": reverse("accounts:security")}),
    })


@never_cache
@login_required
@require_POST
def skip_setup(request: HttpRequest) -> HttpResponse:
    """"Later", during the grace period only."""
    if request.session.get(ENROL_REQUIRED) or selectors.two_factor_requirement(request.user) == selectors.REQUIRED:
        messages.error(request, gettext("Two-factor authentication is required for your account."))
        return redirect("accounts:two_factor_setup")
    return redirect(next_after_enrolment(request))
