"""Identifier-first sign-in: the address, then the password (domain or cloud) or SSO, then the code."""

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import errors, selectors, sso
from accounts.flow import complete_sign_in, first_factor_passed, pending_user, remember_next
from accounts.forms import EmailForm, PasswordForm, TokenForm
from accounts.selectors import signin_route
from accounts.services import two_factor
from accounts.services.audit import audit_lockout, audit_signin_failure
from accounts.services.passkeys import CODES_REFUSED
from partners.models import AuthMethod

EMAIL = "signin_email"


@never_cache
@require_http_methods(["GET", "POST"])
def login_email(request: HttpRequest) -> HttpResponse:
    """Step one: the email address. What comes next depends on the address's domain only."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    remember_next(request)
    form = EmailForm(request.POST or None, initial={"email": request.session.get(EMAIL, "")})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        request.session[EMAIL] = email
        route = signin_route(email=email)
        # A choice made for an earlier address must not carry over to this one.
        request.session.pop(sso.SESSION_PARTNER, None)
        request.session.pop(sso.SESSION_EMAIL, None)
        if route.offers_sso:
            request.session[sso.SESSION_PARTNER] = route.partner_id
            request.session[sso.SESSION_EMAIL] = email
            if route.sso_enforced:
                return redirect("accounts:sso_start")
        return redirect("accounts:login_password")
    return render(request, "accounts/login.html", {"form": form})


def _password_page(request, form, *, email, route, status=200, error=""):
    return render(request, "accounts/login_password.html", {
        "form": form, "email": email, "route": route, "error": error,
        "domain_password": route.method == AuthMethod.DOMAIN_PASSWORD,
        "offers_sso": route.offers_sso,
        "can_reset": route.method != AuthMethod.DOMAIN_PASSWORD and not route.sso_enforced,
    }, status=status)


@never_cache
@sensitive_post_parameters("password")
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_password(request: HttpRequest) -> HttpResponse:
    """Step two: the password, checked by the backend of the person's account (domain or cloud)."""
    email = request.session.get(EMAIL)
    if not email:
        return redirect("accounts:login")
    route = signin_route(email=email)
    if route.offers_sso and route.sso_enforced:
        return redirect("accounts:sso_start")
    form = PasswordForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return _password_page(request, form, email=email, route=route)
    try:
        user = authenticate(request, username=email, password=form.cleaned_data["password"])
    except errors.DirectoryUnreachable as exc:
        audit_signin_failure(request=request, email=email, method=route.method, reason=f"directory: {exc.detail}")
        return _password_page(request, PasswordForm(), email=email, route=route, status=503,
                              error=errors.DIRECTORY_UNREACHABLE)
    if getattr(request, "axes_locked_out", False):
        return lockout_response(request, None, {"username": email})
    if user is None:
        audit_signin_failure(request=request, email=email, method=route.method, reason="not accepted")
        return _password_page(request, PasswordForm(), email=email, route=route, error=errors.SIGN_IN_FAILED)
    return first_factor_passed(request, user, backend=user.backend, method=route.method)


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer for a locked-out address or client: the sign-in page, with the reason."""
    email = (credentials or {}).get("username") or request.session.get(EMAIL, "")
    if not getattr(request, "_portal_lockout_audited", False):
        request._portal_lockout_audited = True
        audit_lockout(request=request, email=email)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return _password_page(request, PasswordForm(), email=email, route=signin_route(email=email), status=429,
                          error=errors.LOCKED_OUT.format(minutes=minutes))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """Step three for people with an authenticator: the code (or a backup code)."""
    waiting = pending_user(request)
    if waiting is None:
        messages.info(request, gettext("Your sign-in took too long; please start again."))
        return redirect("accounts:login")
    user, pending = waiting
    form = TokenForm(request.POST or None)
    codes_accepted = selectors.codes_accepted_at_signin(user)
    if request.method == "POST" and form.is_valid() and not codes_accepted:
        # Under a phishing-resistant policy a code is refused outright (not even checked) once they have a passkey.
        audit_signin_failure(request=request, email=user.email, method="totp", reason="code refused: passkey required")
        form.add_error("token", CODES_REFUSED)
    elif request.method == "POST" and form.is_valid():
        device = two_factor.verify(user=user, token=form.cleaned_data["token"])
        if device is not None:
            return complete_sign_in(request, user, backend=pending["backend"], method=pending["method"],
                                    device=device)
        audit_signin_failure(request=request, email=user.email, method="totp", reason="wrong code")
        form.add_error("token", errors.CODE_WRONG)
    return render(request, "accounts/login_verify.html", {
        "form": form, "has_passkey": selectors.has_passkey(user), "codes_accepted": codes_accepted,
        "has_codes": selectors.has_authenticator_app(user) or selectors.backup_codes_left(user) > 0,
    })


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only, so that a link elsewhere cannot sign people out)."""
    auth.logout(request)
    messages.success(request, gettext("You are signed out."))
    return redirect("accounts:login")
