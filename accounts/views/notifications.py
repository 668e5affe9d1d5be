"""The person's choice of optional mails ("Mail I receive"), reached from their security page."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.mail import mail_kinds_offered, mail_preferences_of, mail_preferences_set


def _form(user, data=None) -> forms.Form:
    """A checkbox for each optional mail offered to the person, ticked as they get it now."""
    current = mail_preferences_of(user=user)
    form = forms.Form(data)
    for kind in mail_kinds_offered(user=user):
        form.fields[kind.key] = forms.BooleanField(label=kind.label, required=False, initial=current[kind.key])
    return form


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """Which optional notifications the person gets; security notices and invitations always go out."""
    form = _form(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        mail_preferences_set(user=request.user, enabled=form.cleaned_data, actor=request.user, request=request)
        messages.success(request, gettext("Your mail choices are saved."))
        return redirect("accounts:notifications")
    return render(request, "accounts/notifications.html", {"form": form})
