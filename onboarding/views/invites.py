"""Invites: resend and revoke (account managers), and the invited person's acceptance page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import errors as signin_errors
from accounts import sso
from accounts.flow import first_factor_passed
from core.conflicts import conflicts_refused
from onboarding.errors import (
    INVITE_RESENT,
    INVITE_REVOKED,
    PASSWORDS_DIFFER,
    REFUSED,
    SSO_INVITE_UNMATCHED,
    ConcurrentChange,
    InviteExpired,
    OnboardingError,
)
from onboarding.models import Invite
from onboarding.permissions import may_review
from onboarding.selectors import invite_by_pk, invite_by_token, partner_for, partner_invite
from onboarding.services.acceptance import invite_accept, invite_check, invite_method
from onboarding.services.invites import invite_renewal_request, invite_resend, invite_revoke
from partners.models import AuthMethod
from partners.selectors import account_settings_of

SESSION_INVITE = "accepting_invite_id"  # the invite this browser accepts through single sign-on
PASSWORD_BACKENDS = {
    AuthMethod.DOMAIN_PASSWORD: "accounts.backends.DomainPasswordBackend",
    AuthMethod.CLOUD_PASSWORD: "accounts.backends.CloudPasswordBackend",
}


def _invite_of(request, slug: str, invite_id: int) -> Invite:
    partner = partner_for(user=request.user, slug=slug)
    if not may_review(request.user, partner):
        raise Http404
    return partner_invite(partner=partner, invite_id=invite_id)


def _invite_action(request, slug: str, invite_id: int, service, done: str) -> HttpResponse:
    invite = _invite_of(request, slug, invite_id)
    try:
        with conflicts_refused():
            service(invite=invite, actor=request.user, request=request)
        messages.success(request, done.format(email=invite.display_email))
    except REFUSED as exc:
        messages.error(request, str(exc))
    return redirect("onboarding:partner_detail", slug=slug)


@login_required
@require_POST
def resend(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    return _invite_action(request, slug, invite_id, invite_resend, INVITE_RESENT)


@login_required
@require_POST
def revoke(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    return _invite_action(request, slug, invite_id, invite_revoke, INVITE_REVOKED)


@never_cache
@sensitive_post_parameters("password", "password2")
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the mail. Opening it changes nothing (mail scanners open links); the person confirms here."""
    invite = invite_by_token(token)
    context = {"invite": invite, "token": token}
    try:
        invite_check(invite)
    except InviteExpired:
        return render(request, "onboarding/invite_expired.html", context, status=410)
    except OnboardingError as exc:
        return render(request, "onboarding/invite_unavailable.html", {**context, "error": str(exc)}, status=404)
    method = invite_method(invite)
    account = account_settings_of(invite.partner)
    context.update(method=method, sso_enforced=account.sso_enforced,
                   min_length=_min_password_length())
    if request.method == "POST":
        if request.POST.get("sso") and method == AuthMethod.SSO:
            # Single sign-on proves who the person is; accept_sso (below) then accepts for them.
            request.session[SESSION_INVITE] = invite.pk
            sso.sign_in_expect(request, user=invite.user, email=invite.display_email,
                               then=reverse("onboarding:invite_accept_sso"))
            return redirect("accounts:sso_start")
        password = request.POST.get("password", "")
        if method not in (AuthMethod.DOMAIN_PASSWORD,) and password != request.POST.get("password2", ""):
            context["error"] = PASSWORDS_DIFFER
        else:
            try:
                with conflicts_refused():
                    user = invite_accept(invite=invite, password=password, request=request)
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
            except signin_errors.DirectoryUnreachable:
                context["error"] = signin_errors.DIRECTORY_UNREACHABLE
            except REFUSED as exc:
                context["error"] = str(exc)
            else:
                messages.success(request, "Welcome to the Partner Portal.")
                backend = PASSWORD_BACKENDS.get(method, PASSWORD_BACKENDS[AuthMethod.CLOUD_PASSWORD])
                return first_factor_passed(request, user, backend=backend, method=method)
    return render(request, "onboarding/invite_accept.html", context)


@never_cache
@require_GET
def accept_sso(request: HttpRequest) -> HttpResponse:
    """Back from single sign-on with the invited person verified: accept the invitation, sign them in."""
    invite_id = request.session.pop(SESSION_INVITE, None)
    user = sso.verified_user(request)
    invite = invite_by_pk(pk=invite_id)
    if user is None or invite is None:
        return sso.sign_in_refused(request, SSO_INVITE_UNMATCHED)
    try:
        with conflicts_refused():
            user = invite_accept(invite=invite, sso_user=user, request=request)
    except REFUSED as exc:
        return sso.sign_in_refused(request, str(exc))
    return first_factor_passed(request, user, backend=sso.BACKEND, method=AuthMethod.SSO)


@require_POST
def renew(request: HttpRequest, token: str) -> HttpResponse:
    """From an expired link: one click asks the account manager for a new invite."""
    invite = invite_by_token(token)
    if invite is None:
        raise Http404
    try:
        with conflicts_refused():
            invite_renewal_request(invite=invite, request=request)
    except ConcurrentChange as exc:
        messages.error(request, str(exc))
        return redirect("onboarding:invite_accept", token=token)
    return render(request, "onboarding/invite_renewal_sent.html", {"invite": invite})


def _min_password_length() -> int:
    for validator in settings.AUTH_PASSWORD_VALIDATORS:
        if validator["NAME"].endswith("MinimumLengthValidator"):
            return validator.get("OPTIONS", {}).get("min_length", 8)
    return 8
