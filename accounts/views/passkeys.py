"""Passkeys and security keys: registering, removing, and signing in with one (second factor or passwordless).

The JSON endpoints are django-otp-webauthn's views, narrowed: registration is for the signed-in person;
the second-factor ceremony asks for the credentials of the person *waiting* at the second step (the
session's PENDING user, never `request.user`); a passwordless sign-in is refused server-side to anyone
whose account does not sign in with a portal password. Every sign-in ends in accounts.flow.complete_sign_in
(new session key, audit, language, ?next=). The browser side is static/js/passkeys.js.
"""

from functools import cached_property
from logging import getLogger

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.utils import rewrite_exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from accounts import lockout, selectors
from accounts.errors import SecondFactorRequired
from accounts.flow import (
    AFTER_ENROLMENT,
    ENROL_REQUIRED,
    SIGNED_IN_AT,
    complete_sign_in,
    next_after_enrolment,
    pending_user,
)
from accounts.forms import PasskeyNameForm, PasskeyRemoveForm
from accounts.services import passkeys, two_factor
from accounts.services.audit import audit_signin_failure

logger = getLogger("django_otp_webauthn")
# A passwordless sign-in is only for people whose first factor is a portal password (selectors.
# passwordless_signin_allowed): the session is that backend's, which checks the person on every request.
PASSWORDLESS_BACKEND = "accounts.backends.CloudPasswordBackend"
# Each ceremony keeps its state under its own session key (not the package's shared ones): a challenge issued
# for one is never found by another's complete view.
REGISTER_STATE = "passkey_register_state"
VERIFY_STATE = "passkey_verify_state"
SIGNIN_STATE = "passkey_signin_state"


class PasskeyRefused(webauthn_errors.OTPWebAuthnApiError):
    """A ceremony that did not sign in or register: one message, whatever the reason (kept in the audit)."""

    status_code = 403
    default_code = "passkey_refused"


class PasskeyThrottled(PasskeyRefused):
    """Too many failed sign-ins from this client (accounts.lockout): refused before any ceremony."""

    status_code = 429
    default_code = "passkey_throttled"


def _refused(message) -> PasskeyRefused:
    return PasskeyRefused(detail=str(message))


def _take_state(request: HttpRequest, key: str, *, purpose: str, user=None) -> dict:
    """Pop a ceremony's state (saved at once: it is never used twice, whatever happens next) and check that it is
    this ceremony's, for this person, and not older than OTP_WEBAUTHN_TIMEOUT_SECONDS."""
    state = request.session.pop(key, None)
    request.session.save()
    if not state or not passkeys.ceremony_state_valid(state, purpose=purpose, user=user):
        raise webauthn_errors.InvalidState()
    return state


# -- registration (signed in) -------------------------------------------------------------------


class _RecentSignInMixin:
    def check_can_register(self):
        """Adding a passkey, which signs in, needs a sign-in within the last 15 minutes (as removing one does):
        a session left open elsewhere cannot add a way in that would outlast a password reset."""
        super().check_can_register()
        if not two_factor.recent_signin(self.request.session.get(SIGNED_IN_AT)):
            raise _refused(passkeys.PASSKEY_SIGN_IN_AGAIN)


@method_decorator(login_required, name="dispatch")
class PasskeyRegisterBegin(_RecentSignInMixin, BeginCredentialRegistrationView):
    """The options for a new credential (the package refuses a session not yet verified by an existing factor)."""

    def post(self, *args, **kwargs):
        user = self.get_user()
        data, state = self.get_helper().register_begin(user=user)
        self.request.session[REGISTER_STATE] = passkeys.ceremony_state(state, purpose=passkeys.REGISTER, user=user)
        return JsonResponse(data)


@method_decorator(login_required, name="dispatch")
class PasskeyRegisterComplete(_RecentSignInMixin, CompleteCredentialRegistrationView):
    """Verify and keep the new credential under the name the person gave it; audit and mail (the service)."""

    def get_state(self):
        return _take_state(self.request, REGISTER_STATE, purpose=passkeys.REGISTER, user=self.get_user())

    def post(self, *args, **kwargs):
        request = self.request
        user = self.get_user()
        state = self.get_state()
        data = dict(self.request.data)
        name = str(data.pop("name", "") or "")
        try:
            with rewrite_exceptions(logger=logger):
                credential = passkeys.passkey_register(user=user, helper=self.get_helper(), state=state, data=data,
                                                       name=name, request=request)
        except (webauthn_errors.OTPWebAuthnApiError, passkeys.PasskeyError) as exc:
            logger.info("passkey registration of %s refused: %s", user.pk, getattr(exc, "code", "duplicate"))
            raise _refused(passkeys.PASSKEY_CEREMONY_FAILED) from exc
        confined = selectors.passkey_required_now(user, getattr(user, "otp_device", None))
        if not request.user.is_verified() or selectors.phishing_resistant_required(user):
            # The new credential just proved itself: the session counts as verified with it. Under the
            # phishing-resistant policy even a session verified with an app code is (its code is not the factor
            # the account requires: accounts.middleware confines such a session until this).
            django_otp.login(request, credential)
        enrolling = bool(confined or request.session.get(ENROL_REQUIRED) or request.session.get(AFTER_ENROLMENT))
        if selectors.has_required_factor(user):
            request.session.pop(ENROL_REQUIRED, None)
        messages.success(request, passkeys.PASSKEY_ADDED)
        target = next_after_enrolment(request) if enrolling else reverse("accounts:passkeys")
        return JsonResponse({"id": credential.pk, "redirect_url": target})


# -- second factor at sign-in (the person waiting at the second step) ----------------------------


class _PendingUserMixin:
    @cached_property
    def waiting(self):
        return pending_user(self.request)

    def get_user(self):
        return self.waiting[0] if self.waiting else None

    def check_can_authenticate(self):
        if self.waiting is None:
            raise _refused(passkeys.PASSKEY_SIGNIN_REFUSED)


class PasskeyVerifyBegin(_PendingUserMixin, BeginCredentialAuthenticationView):
    """The options for the waiting person's own credentials (never the signed-in session's).

    User verification is not required here (a security key without a PIN is a second factor beside the
    password): the state says so, and is only ever accepted by PasskeyVerifyComplete for this person.
    """

    def post(self, *args, **kwargs):
        user = self.get_user()
        data, state = self.get_helper().authenticate_begin(user=user, require_user_verification=False)
        self.request.session[VERIFY_STATE] = passkeys.ceremony_state(state, purpose=passkeys.VERIFY, user=user)
        return JsonResponse(data)


class PasskeyVerifyComplete(_PendingUserMixin, CompleteCredentialAuthenticationView):
    """Check the assertion against the waiting person's credentials and complete their sign-in."""

    def get_state(self):
        return _take_state(self.request, VERIFY_STATE, purpose=passkeys.VERIFY, user=self.get_user())

    def post(self, *args, **kwargs):
        request = self.request
        user, pending = self.waiting
        state = self.get_state()
        try:
            with rewrite_exceptions(logger=logger):
                credential = self.get_helper().authenticate_complete(user=user, state=state, data=request.data)
            self.check_device_usable(credential)
        except webauthn_errors.OTPWebAuthnApiError as exc:
            reason = (passkeys.SIGN_COUNT_WENT_BACKWARDS if passkeys.sign_count_went_backwards(exc)
                      else f"passkey: {exc.code}")
            audit_signin_failure(request=request, email=user.email, method="passkey", reason=reason)
            raise _refused(passkeys.PASSKEY_CEREMONY_FAILED) from exc
        response = complete_sign_in(request, user, backend=pending["backend"], method=pending["method"],
                                    device=credential)
        return JsonResponse({"id": credential.pk, "redirect_url": response.url})


# -- passwordless sign-in -----------------------------------------------------------------------


class _SignedOutMixin:
    def get_user(self):
        return None

    def check_can_authenticate(self):
        if self.request.user.is_authenticated:
            raise _refused(passkeys.PASSKEY_SIGNIN_REFUSED)
        if lockout.client_throttled(self.request):
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            raise PasskeyThrottled(detail=str(passkeys.PASSKEY_THROTTLED).format(minutes=minutes))
        super().check_can_authenticate()


class PasskeySignInBegin(_SignedOutMixin, BeginCredentialAuthenticationView):
    """Options for a discoverable credential: no address asked, none named (the authenticator offers its own)."""

    def post(self, *args, **kwargs):
        data, state = self.get_helper().authenticate_begin(user=None, require_user_verification=True)
        self.request.session[SIGNIN_STATE] = passkeys.ceremony_state(state, purpose=passkeys.SIGNIN)
        return JsonResponse(data)


class PasskeySignInComplete(_SignedOutMixin, CompleteCredentialAuthenticationView):
    """A passkey alone signs in (both factors), for those whose account allows it — checked here, not only hidden.

    The authenticator must have verified the person (PIN, fingerprint): required here whatever the state says.
    Every failure counts against the client in the sign-in throttle (accounts.lockout).
    """

    def get_state(self):
        state = _take_state(self.request, SIGNIN_STATE, purpose=passkeys.SIGNIN)
        return {**state, "require_user_verification": True}

    def post(self, *args, **kwargs):
        request = self.request
        state = self.get_state()
        try:
            with rewrite_exceptions(logger=logger):
                credential = self.get_helper().authenticate_complete(user=None, state=state, data=request.data)
            self.check_device_usable(credential)
        except webauthn_errors.OTPWebAuthnApiError as exc:
            lockout.passwordless_failure_record(request)
            if passkeys.sign_count_went_backwards(exc):
                # The credential is known (its counter was read): the event names its owner.
                owner = selectors.passkey_owner_by_credential_id(str(request.data.get("rawId", "")))
                audit_signin_failure(request=request, email=owner.email if owner else "", method="passkey",
                                     reason=passkeys.SIGN_COUNT_WENT_BACKWARDS)
            else:
                audit_signin_failure(request=request, email="", method="passkey", reason=f"passkey: {exc.code}")
            raise _refused(passkeys.PASSKEY_SIGNIN_REFUSED) from exc
        user = credential.user
        if not selectors.passwordless_signin_allowed(user):
            lockout.passwordless_failure_record(request)
            audit_signin_failure(request=request, email=user.email, method="passkey",
                                 reason="passwordless sign-in not allowed for this person or account")
            raise _refused(passkeys.PASSKEY_SIGNIN_REFUSED)
        response = complete_sign_in(request, user, backend=PASSWORDLESS_BACKEND, method="passkey", device=credential)
        return JsonResponse({"id": credential.pk, "redirect_url": response.url})


# -- pages --------------------------------------------------------------------------------------


@never_cache
@login_required
def passkey_list(request: HttpRequest) -> HttpResponse:
    """The person's passkeys and security keys, with the form to add one."""
    user = request.user
    return render(request, "accounts/passkeys.html", {
        "passkeys": selectors.passkeys_of(user),
        "form": PasskeyNameForm(),
        "phishing_resistant": selectors.phishing_resistant_required(user),
        "requirement": selectors.two_factor_requirement(user),
        "deadline": selectors.grace_deadline(user),
        "mandatory": bool(request.session.get(ENROL_REQUIRED))
        or selectors.passkey_required_now(user, getattr(user, "otp_device", None)),
        "may_add": two_factor.recent_signin(request.session.get(SIGNED_IN_AT)),
        "localhost_origin": passkeys.localhost_origin(),
    })


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove one passkey: with a recent sign-in, or a current code; never the last factor a policy requires."""
    user = request.user
    credential = selectors.passkey_of(user=user, pk=pk)
    if credential is None:
        return redirect("accounts:passkeys")
    signed_in_at = request.session.get(SIGNED_IN_AT)
    code_needed = not two_factor.recent_signin(signed_in_at)
    # A bound form even for an empty POST: right after signing in, the button alone removes the passkey.
    # Under a phishing-resistant policy codes do not confirm a removal (only a recent sign-in does).
    has_codes = not selectors.phishing_resistant_required(user) and (
        selectors.has_authenticator_app(user) or selectors.backup_codes_left(user) > 0)
    form = PasskeyRemoveForm(request.POST if request.method == "POST" else None,
                             code_needed=code_needed and has_codes)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            passkeys.passkey_remove(user=user, credential=credential, signed_in_at=signed_in_at,
                                    current=form.cleaned_data["current"], request=request)
        except SecondFactorRequired as exc:
            if has_codes:
                form.add_error("current", str(exc))
            else:
                error = str(exc)
        except passkeys.PasskeyError as exc:
            error = str(exc)
        else:
            messages.success(request, passkeys.PASSKEY_REMOVED)
            return redirect("accounts:passkeys")
    return render(request, "accounts/passkey_remove.html", {
        "passkey": credential, "form": form, "code_needed": code_needed, "error": error,
        "has_codes": has_codes,
    }, status=400 if error else 200)
