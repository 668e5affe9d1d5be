"""Invites: resend and revoke (account managers), and the invited person's acceptance page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import errors as signin_errors
from accounts import sso
from accounts.flow import first_factor_passed
from accounts.services.signin import account_settings_of
from onboarding.errors import OnboardingError
from onboarding.models import AuthMethod, Invite
from onboarding.permissions import may_review
from onboarding.selectors import partner_for
from onboarding.services.acceptance import InviteExpired, invite_accept, invite_check, invite_method
from onboarding.services.invites import invite_by_token, invite_renewal_request, invite_resend, invite_revoke

SESSION_INVITE = sso.SESSION_INVITE


def _invite_of(request, slug: str, invite_id: int) -> Invite:
    partner = partner_for(user=request.user, slug=slug)
    if not may_review(request.user, partner):
        raise Http404
    return get_object_or_404(Invite, pk=invite_id, partner=partner)


def _invite_action(request, slug: str, invite_id: int, service, done: str) -> HttpResponse:
    invite = _invite_of(request, slug, invite_id)
    try:
        service(invite=invite, actor=request.user, request=request)
        messages.success(request, done.format(email=invite.display_email))
    except OnboardingError as exc:
        messages.error(request, str(exc))
    return redirect("partner_detail", slug=slug)


@login_required
@require_POST
def resend(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    return _invite_action(request, slug, invite_id, invite_resend,
                          "A new link is on its way to {email}; the old one no longer works.")


@login_required
@require_POST
def revoke(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    return _invite_action(request, slug, invite_id, invite_revoke, "The invitation of {email} is revoked.")


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
            request.session[SESSION_INVITE] = invite.pk
            request.session[sso.SESSION_PARTNER] = invite.partner_id
            request.session[sso.SESSION_EMAIL] = invite.display_email
            return redirect("accounts:sso_start")
        password = request.POST.get("password", "")
        if method not in (AuthMethod.DOMAIN_PASSWORD,) and password != request.POST.get("password2", ""):
            context["error"] = "The two passwords differ."
        else:
            try:
                user = invite_accept(invite=invite, password=password, request=request)
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
            except signin_errors.DirectoryUnreachable:
                context["error"] = signin_errors.DIRECTORY_UNREACHABLE
            except OnboardingError as exc:
                context["error"] = str(exc)
            else:
                messages.success(request, "Welcome to the Partner Portal.")
                backend = ("accounts.backends.DomainPasswordBackend" if method == AuthMethod.DOMAIN_PASSWORD
                           else "accounts.backends.CloudPasswordBackend")
                return first_factor_passed(request, user, backend=backend, method=method)
    return render(request, "onboarding/invite_accept.html", context)


@require_POST
def renew(request: HttpRequest, token: str) -> HttpResponse:
    """From an expired link: one click asks the account manager for a new invite."""
    invite = invite_by_token(token)
    if invite is None:
        raise Http404
    invite_renewal_request(invite=invite, request=request)
    return render(request, "onboarding/invite_renewal_sent.html", {"invite": invite})


def _min_password_length() -> int:
    for validator in settings.AUTH_PASSWORD_VALIDATORS:
        if validator["NAME"].endswith("MinimumLengthValidator"):
            return validator.get("OPTIONS", {}).get("min_length", 8)
    return 8
