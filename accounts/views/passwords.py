"""Password reset (self-service, by mail) and change, for cloud-password people.

The mailed link is `…/password/reset/link/#uid.token`. What follows "#" never leaves the browser, so
no access log (gunicorn's, the proxy's) ever holds it. The page's script (static/js/password-reset.js)
takes the code out of the address bar and posts it with the CSRF token; `reset_link` checks it and
keeps it in the session (Django's own mechanism, INTERNAL_RESET_SESSION_TOKEN), and the form to set
the password is on a URL without any secret. Without JavaScript the page asks for the code, which
the mail gives too.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import errors
from accounts.forms import EmailForm, PortalPasswordChangeForm, PortalSetPasswordForm, ResetCodeForm
from accounts.selectors import may_use_cloud_password, reset_code_check, reset_user
from accounts.services.passwords import password_changed, password_reset_queue

SAME_ANSWER = (
    "If a portal account uses that address, we have sent it an email. It explains how to set a new "
    "password, or whom to ask. The link in it works once, for a short time."
)
SESSION_RESET_UID = "password_reset_uid"


@never_cache
@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link: the same answer, after the same work, whatever the address."""
    form = EmailForm(request.POST or None, initial={"email": request.session.get("signin_email", "")})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            password_reset_queue(email=form.cleaned_data["email"], request=request)
        return render(request, "accounts/password_reset_sent.html", {"message": SAME_ANSWER})
    return render(request, "accounts/password_reset.html", {"form": form})


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def reset_link(request: HttpRequest) -> HttpResponse:
    """Where the mailed link leads: take the code (from the script, or typed), keep it in the session, go on."""
    form = ResetCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        found = reset_code_check(code=form.cleaned_data["code"])
        if found is not None:
            _, uidb64, token = found
            request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN] = token
            request.session[SESSION_RESET_UID] = uidb64
            return redirect("accounts:password_reset_confirm")
        # A fresh form: the page never echoes a code back.
        return render(request, "accounts/password_reset_link.html",
                      {"form": ResetCodeForm(), "error": errors.RESET_CODE_INVALID})
    return render(request, "accounts/password_reset_link.html", {"form": form})


@never_cache
def reset_link_retired(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """A link of the earlier form, with its secret in the path: never accepted (it was in the access log)."""
    return render(request, "accounts/password_reset_confirm.html", {"validlink": False})


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's confirm view, on a URL without uid or token: both come from the session (see reset_link)."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = PortalSetPasswordForm  # Django's validators (length, common passwords, similarity) apply
    success_url = reverse_lazy("accounts:login")
    post_reset_login = False

    def dispatch(self, *args, **kwargs):
        session = self.request.session
        return super().dispatch(*args, uidb64=session.get(SESSION_RESET_UID, ""), token=self.reset_url_token)

    def get_user(self, uidb64):
        # The person must still be one who signs in with a cloud password.
        return reset_user(uidb64=uidb64)

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session.pop(SESSION_RESET_UID, None)
        password_changed(user=form.user, request=self.request, via="reset")
        messages.success(self.request, errors.RESET_DONE)
        return response


class ChangeView(auth_views.PasswordChangeView):
    """Change a cloud password, given the current one (Django's form asks for it); the person is mailed.

    The session stays, every other session of the person ends.
    """

    template_name = "accounts/password_change.html"
    form_class = PortalPasswordChangeForm
    success_url = reverse_lazy("accounts:security")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not may_use_cloud_password(request.user):
            messages.info(request, gettext("Your account does not use a portal password."))
            return redirect("accounts:security")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(user=form.user, request=self.request, via="changed")
        messages.success(self.request, errors.CHANGE_DONE)
        return response


change = login_required(ChangeView.as_view())
reset_confirm = ResetConfirmView.as_view()
