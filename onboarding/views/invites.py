"""Invites: resend and revoke (account managers), and the invited person's pages: the link's page, which
posts the code from the fragment, then the token-free acceptance page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import errors as signin_errors
from accounts import sso
from accounts.flow import first_factor_passed
from core.conflicts import conflicts_refused
from onboarding.errors import (
    INVITE_LINK_INVALID,
    INVITE_LINK_OUTDATED,
    INVITE_RESENT,
    INVITE_REVOKED,
    PASSWORDS_DIFFER,
    REFUSED,
    SSO_INVITE_UNMATCHED,
    ConcurrentChange,
    InviteExpired,
    OnboardingError,
)
from onboarding.forms import InviteCodeForm
from onboarding.models import Invite
from onboarding.permissions import may_review
from onboarding.selectors import invite_by_pk, invite_by_token, invite_by_token_hash, partner_for, partner_invite
from onboarding.services.acceptance import invite_accept, invite_check, invite_method
from onboarding.services.invites import invite_renewal_request, invite_resend, invite_revoke
from partners.models import AuthMethod
from partners.selectors import account_settings_of

SESSION_INVITE = "accepting_invite_id"  # the invite this browser accepts through single sign-on
SESSION_OPENED = "invite_opened"  # the token hash of the invitation this browser opened (never the token)
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
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def open_link(request: HttpRequest) -> HttpResponse:
    """The link in the mail, /invite/#CODE. The code rides in the fragment, which browsers never send, so no
    access log, proxy or Referer holds it; the page's script (static/js/invite.js) takes it from the address
    bar and posts it here, and without JavaScript the person pastes it from the mail. Opening changes nothing
    (mail scanners open links): this browser only remembers which invitation it opened."""
    form = InviteCodeForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return render(request, "onboarding/invite_open.html", {"form": form})
    invite = invite_by_token(form.cleaned_data["code"])
    if invite is None:
        return render(request, "onboarding/invite_unavailable.html",
                      {"error": INVITE_LINK_INVALID, "may_retry": True}, status=404)
    # The hash, never the token: a resend or a revocation changes or clears it, and this reference dies with it.
    request.session[SESSION_OPENED] = invite.token_hash
    return redirect("onboarding:invite_accept")


@never_cache
@sensitive_post_parameters("password", "password2")
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest) -> HttpResponse:
    """The invitation this browser opened: expired, unavailable, or the page where the person confirms."""
    if not request.session.get(SESSION_OPENED):
        return redirect("onboarding:invite_open")  # not opened in this browser, or its session ended
    invite = invite_by_token_hash(request.session[SESSION_OPENED])
    context = {"invite": invite}
    try:
        invite_check(invite)
    except InviteExpired:
        return render(request, "onboarding/invite_expired.html", context, status=410)
    except OnboardingError as exc:
        return render(request, "onboarding/invite_unavailable.html", {**context, "error": str(exc)}, status=404)
    method = invite_method(invite)
    context.update(method=method, sso_enforced=account_settings_of(invite.partner).sso_enforced,
                   min_length=_min_password_length())
    if request.method == "POST":
        done = _confirm(request, invite, method, context)
        if done is not None:
            return done
    return render(request, "onboarding/invite_accept.html", context)


def _confirm(request: HttpRequest, invite: Invite, method: str, context: dict) -> HttpResponse | None:
    """The person's confirmation: on to single sign-on, or accepted and signed in; None (with context["error"])
    when refused, to show the page again."""
    if request.POST.get("sso") and method == AuthMethod.SSO:
        # Single sign-on proves who the person is; accept_sso (below) then accepts for them.
        request.session[SESSION_INVITE] = invite.pk
        sso.sign_in_expect(request, user=invite.user, email=invite.display_email,
                           then=reverse("onboarding:invite_accept_sso"))
        return redirect("accounts:sso_start")
    password = request.POST.get("password", "")
    if method not in (AuthMethod.DOMAIN_PASSWORD,) and password != request.POST.get("password2", ""):
        context["error"] = PASSWORDS_DIFFER
        return None
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
        request.session.pop(SESSION_OPENED, None)
        messages.success(request, gettext("Welcome to the Partner Portal."))
        backend = PASSWORD_BACKENDS.get(method, PASSWORD_BACKENDS[AuthMethod.CLOUD_PASSWORD])
        return first_factor_passed(request, user, backend=backend, method=method)
    return None


@never_cache
@require_GET
def accept_sso(request: HttpRequest) -> HttpResponse:
    """Back from single sign-on with the invited person verified: accept the invitation, sign them in."""
    invite_id = request.session.pop(SESSION_INVITE, None)
    user = sso.verified_user(request)
    invite = invite_by_pk(pk=invite_id)
    if user is None or invite is None:
        return sso.sign_in_refused(request, SSO_INVITE_UNMATCHED)
    backend = user.backend  # OpenID Connect's or SAML's, whichever verified them
    try:
        with conflicts_refused():
            user = invite_accept(invite=invite, sso_user=user, request=request)
    except REFUSED as exc:
        return sso.sign_in_refused(request, str(exc))
    request.session.pop(SESSION_OPENED, None)
    return first_factor_passed(request, user, backend=backend, method=AuthMethod.SSO)


@require_POST
def renew(request: HttpRequest) -> HttpResponse:
    """From the expired page of the invitation this browser opened: one click asks the account manager for a
    new invite (the token stays out of this URL too)."""
    invite = invite_by_token_hash(request.session.get(SESSION_OPENED))
    if invite is None:
        raise Http404
    try:
        with conflicts_refused():
            invite_renewal_request(invite=invite, request=request)
    except ConcurrentChange as exc:
        messages.error(request, str(exc))
        return redirect("onboarding:invite_accept")
    return render(request, "onboarding/invite_renewal_sent.html", {"invite": invite})


@never_cache
@require_http_methods(["GET", "POST"])
def outdated_link(request: HttpRequest, token: str) -> HttpResponse:
    """A link of the earlier form /invite/<token>/ (mails sent before the token moved into the fragment). Its
    token may sit in access logs, so it is never looked up: the person asks for the invitation again."""
    return render(request, "onboarding/invite_unavailable.html", {"error": INVITE_LINK_OUTDATED}, status=410)


def _min_password_length() -> int:
    for validator in settings.AUTH_PASSWORD_VALIDATORS:
        if validator["NAME"].endswith("MinimumLengthValidator"):
            return validator.get("OPTIONS", {}).get("min_length", 8)
    return 8
