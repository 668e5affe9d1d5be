"""Two-factor pages: enrolment with a QR code, backup codes, and the person's security page."""

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors
from accounts.flow import ENROL_REQUIRED
from accounts.forms import TokenForm
from accounts.services import two_factor

SESSION_DEVICE = "two_factor_pending_device"
SESSION_CODES = "two_factor_new_codes"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the key), then confirm with a code from the app."""
    user = request.user
    device = selectors.pending_device(user=user, device_id=request.session.get(SESSION_DEVICE))
    if device is None:
        device = two_factor.enrolment_start(user=user)
        request.session[SESSION_DEVICE] = device.pk
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = two_factor.enrolment_confirm(user=user, device=device, token=form.cleaned_data["token"],
                                             request=request)
        if codes is not None:
            django_otp.login(request, device)
            request.session.pop(SESSION_DEVICE, None)
            request.session.pop(ENROL_REQUIRED, None)
            request.session[SESSION_CODES] = codes
            return redirect("accounts:two_factor_backup_codes")
        form.add_error("token", "That code is not right. Check the time on your phone and try the current code.")
    return render(request, "accounts/two_factor_setup.html", {
        "form": form, "qr_svg": two_factor.qr_code_svg(device), "secret": two_factor.secret_text(device),
        "mandatory": bool(request.session.get(ENROL_REQUIRED)),
        "requirement": selectors.two_factor_requirement(user), "deadline": selectors.grace_deadline(user),
    })


@never_cache
@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """Show new backup codes once; after that only their number is shown."""
    codes = request.session.pop(SESSION_CODES, None)
    if codes is None:
        return redirect("accounts:security")
    return render(request, "accounts/two_factor_backup_codes.html", {"codes": codes})


@login_required
@require_POST
def backup_codes_renew(request: HttpRequest) -> HttpResponse:
    if not selectors.has_device(request.user):
        return redirect("accounts:two_factor_setup")
    request.session[SESSION_CODES] = two_factor.backup_codes_regenerate(user=request.user, request=request)
    return redirect("accounts:two_factor_backup_codes")


@never_cache
@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The person's sign-in settings: two-factor status, backup codes left, password change."""
    user = request.user
    return render(request, "accounts/security.html", {
        "has_device": selectors.has_device(user),
        "codes_left": selectors.backup_codes_left(user),
        "requirement": selectors.two_factor_requirement(user),
        "deadline": selectors.grace_deadline(user),
        "cloud_password": selectors.may_use_cloud_password(user),
    })


@never_cache
@login_required
@require_POST
def skip_setup(request: HttpRequest) -> HttpResponse:
    """"Later", during the grace period only."""
    if request.session.get(ENROL_REQUIRED) or selectors.two_factor_requirement(request.user) == selectors.REQUIRED:
        messages.error(request, "Two-factor authentication is required for your account.")
        return redirect("accounts:two_factor_setup")
    return redirect("dashboard")
