"""Session rules: idle and absolute timeouts, and two-factor enrolment for those who must enrol; the time zone
a signed-in person's pages are drawn in."""

import time
import zoneinfo

from django.conf import settings
from django.contrib import auth, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext

from accounts import selectors
from accounts.flow import ENROL_REQUIRED, LAST_ACTIVITY, SIGNED_IN_AT
from core.languages import supported_language

ACTIVITY_WRITE_INTERVAL = 60  # seconds: do not write the session on every request


class SessionTimeoutMiddleware:
    """Sign people out after SESSION_IDLE_TIMEOUT without a request, or SESSION_COOKIE_AGE after signing in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(SIGNED_IN_AT, now)
            last = request.session.get(LAST_ACTIVITY, now)
            reason = None
            if now - started > settings.SESSION_COOKIE_AGE:
                reason = gettext("Your session ended: please sign in again.")
            elif now - last > settings.SESSION_IDLE_TIMEOUT:
                reason = gettext("You were signed out after a period of inactivity.")
            if reason:
                auth.logout(request)
                messages.info(request, reason)
                return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.get_full_path()})}")
            if now - last > ACTIVITY_WRITE_INTERVAL:
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)


class TwoFactorEnforcementMiddleware:
    """People who must enrol in two-factor can reach only the enrolment pages until they do.

    Under a phishing-resistant policy, a session verified with anything but a passkey or security key
    (selectors.passkey_required_now) reaches only the passkey list, its registration and sign-out: also a session
    verified with an app code before the policy was switched on. Registering a passkey verifies the session with
    it (accounts.views.passkeys), which ends this.
    """

    ALLOWED_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/", "/static/", "/healthz", "/favicon.ico")
    PASSKEY_PREFIXES = ("/accounts/two-factor/passkeys/register/", "/accounts/logout/", "/static/", "/healthz",
                        "/favicon.ico")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated:
            return self.get_response(request)
        if (
            request.path != reverse("accounts:passkeys")
            and not request.path.startswith(self.PASSKEY_PREFIXES)
            and selectors.passkey_required_now(request.user, getattr(request.user, "otp_device", None))
        ):
            if request.method == "GET":
                messages.info(request, gettext("Your account needs a passkey or security key: register one now."))
            return redirect("accounts:passkeys")
        if request.session.get(ENROL_REQUIRED) and not request.path.startswith(self.ALLOWED_PREFIXES):
            return redirect("accounts:two_factor_setup")
        return self.get_response(request)


class TimeZoneMiddleware:
    """Draw a signed-in person's pages in their time zone (UTC, the portal's TIME_ZONE, until they have one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        if not zone:
            return self.get_response(request)
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # tzdata lost a name since it was chosen
            return self.get_response(request)
        try:
            return self.get_response(request)
        finally:
            # The thread serves other people next: never leave one person's zone behind.
            timezone.deactivate()


class LanguageMiddleware:
    """Draw a signed-in person's pages in the language they chose; until they have one (and for everyone signed
    out), Django's LocaleMiddleware has chosen from the browser's Accept-Language or the language switch."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        chosen = user.language if user is not None and user.is_authenticated else ""
        language = supported_language(chosen)
        if language and language != translation.get_language():
            # LocaleMiddleware, around this one, names it in Content-Language; every request activates its own.
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
