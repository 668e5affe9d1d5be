"""Password reset (self-service, by mail) and change, for cloud-password people."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailForm
from accounts.selectors import may_use_cloud_password, signin_user
from accounts.services.passwords import password_changed, password_reset_request

SAME_ANSWER = (
    "If a portal account uses that address, we have sent it an email. It explains how to set a new "
    "password, or whom to ask. The link in it works once, for a short time."
)


@never_cache
@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link: the same answer whatever the address."""
    form = EmailForm(request.POST or None, initial={"email": request.session.get("signin_email", "")})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            password_reset_request(email=form.cleaned_data["email"], request=request)
        return render(request, "accounts/password_reset_sent.html", {"message": SAME_ANSWER})
    return render(request, "accounts/password_reset.html", {"form": form})


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's confirm view: it moves the token from the URL into the session before showing the form."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = SetPasswordForm  # Django's validators (length, common passwords, similarity) apply
    success_url = reverse_lazy("accounts:login")
    post_reset_login = False

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        # The person must still be one who signs in with a cloud password.
        if user is None or signin_user(email=user.email) is None or not may_use_cloud_password(user):
            return None
        return user

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(user=form.user, request=self.request, via="reset")
        messages.success(self.request, "Your password is set. Sign in with it now.")
        return response


class ChangeView(auth_views.PasswordChangeView):
    """Change a cloud password; the session stays, every other session of the person ends."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:security")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not may_use_cloud_password(request.user):
            messages.info(request, "Your account does not use a portal password.")
            return redirect("accounts:security")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(user=form.user, request=self.request, via="changed")
        messages.success(self.request, "Your password is changed. Your other sessions have been signed out.")
        return response


change = login_required(ChangeView.as_view())
reset_confirm = ResetConfirmView.as_view()
