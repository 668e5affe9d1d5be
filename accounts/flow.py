"""The sign-in flow after the first factor, shared by passwords and single sign-on.

A person with an authenticator is not signed in until they gave a code: the first factor's
result waits in the session (`PENDING`) for a few minutes. Signing in rotates the session key,
records when the session started (for the absolute timeout) and sends people who must enrol
in two-factor to enrolment.
"""

import time

import django_otp
from django.conf import settings
from django.contrib import auth, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django_otp_webauthn.models import WebAuthnCredential

from accounts import selectors
from accounts.models import User
from accounts.services import two_factor
from accounts.services.audit import audit_signin_success
from accounts.services.profile import user_language_propose
from core.timezones import override_time_zone

PENDING = "signin_pending"
NEXT = "signin_next"
ENROL_REQUIRED = "two_factor_enrol_required"
AFTER_ENROLMENT = "two_factor_then"  # the ?next= of a sign-in that went through two-factor enrolment first
SIGNED_IN_AT = "signed_in_at"
LAST_ACTIVITY = "last_activity"
PENDING_SECONDS = 5 * 60  # time to type the code from the app


def remember_next(request: HttpRequest) -> None:
    """Keep a safe ?next= for after sign-in (never an address on another site)."""
    target = request.GET.get("next") or request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        request.session[NEXT] = target


def first_factor_passed(request: HttpRequest, user: User, *, backend: str, method: str) -> HttpResponse:
    """The password or provider said yes: ask for the second factor when the person has one."""
    if selectors.has_device(user):
        request.session[PENDING] = {"user": user.pk, "backend": backend, "method": method, "at": time.time()}
        return redirect("accounts:login_verify")
    return complete_sign_in(request, user, backend=backend, method=method)


def pending_user(request: HttpRequest) -> tuple[User, dict] | None:
    """The person waiting to give their second factor, while the wait has not run out."""
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = selectors.pending_signin_user(pk=pending["user"])
    return (user, pending) if user else None


def complete_sign_in(
    request: HttpRequest, user: User, *, backend: str, method: str, device=None
) -> HttpResponse:
    """Sign the person in (new session key), note the second factor, and say where to go next."""
    next_url = request.session.pop(NEXT, None)
    request.session.pop(PENDING, None)
    auth.login(request, user, backend=backend)
    # From here on the person's own language (the browser's, kept now, if they have not chosen one).
    user_language_propose(user=user, language=translation.get_language())
    if user.language and user.language != translation.get_language():
        translation.activate(user.language)
        request.LANGUAGE_CODE = user.language
    if device is not None:
        django_otp.login(request, device)
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_ACTIVITY] = now
    audit_signin_success(request=request, user=user, method=method,
                         second_factor=type(device).__name__ if device else "")
    phishing_resistant = selectors.phishing_resistant_required(user)
    if device is None or (phishing_resistant and not isinstance(device, WebAuthnCredential)):
        # No second factor, or (under a phishing-resistant policy) a code that proved who they are but is not
        # the factor required: on to enrolment, as for anyone who must enrol.
        need = selectors.two_factor_requirement(user)
        setup = "accounts:passkeys" if phishing_resistant else "accounts:two_factor_setup"
        if need in (selectors.REQUIRED, selectors.GRACE) and next_url:
            # Kept for after enrolment: someone signing in at /admin/ goes on to the admin, not the home page.
            request.session[AFTER_ENROLMENT] = next_url
        if need == selectors.REQUIRED:
            request.session[ENROL_REQUIRED] = True
            messages.info(request, gettext("Your account needs a passkey or security key: register one now.")
                          if phishing_resistant else
                          gettext("Your account needs two-factor authentication: set up your authenticator app."))
            return redirect(setup)
        if need == selectors.GRACE:
            two_factor.grace_start(user)
            deadline = selectors.grace_deadline(user)
            with override_time_zone(user.time_zone):  # their day, not UTC's
                day = timezone.localdate(deadline).isoformat()
            messages.info(
                request,
                (gettext("Your account will require a passkey or security key from {date}. Register one now?")
                 if phishing_resistant else
                 gettext("Your account will require two-factor authentication from {date}. Set it up now?")).format(
                    date=day),
            )
            return redirect(setup)
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def next_after_enrolment(request: HttpRequest) -> str:
    """Where a sign-in that stopped for two-factor enrolment goes on to (once): its ?next=, or the home page."""
    return request.session.pop(AFTER_ENROLMENT, None) or resolve_url(settings.LOGIN_REDIRECT_URL)
