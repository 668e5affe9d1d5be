"""A person's API tokens: made here (shown once), listed with their scope, expiry and last use, revoked here."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import ApiTokenRefused
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken
from accounts.services.api_tokens import api_token_create, api_token_revoke, may_make_api_tokens


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The person's tokens and the form for a new one; a new token is shown on this answer only."""
    if not may_make_api_tokens(request.user):
        raise Http404
    form = ApiTokenForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = api_token_create(user=request.user, name=form.cleaned_data["name"],
                                          scope=form.cleaned_data["scope"], days=form.cleaned_data["days"],
                                          actor=request.user, request=request)
        except ApiTokenRefused as exc:
            form.add_error("name", str(exc))
        else:
            made = {"token": token, "raw": raw}
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")[:100]
    return render(request, "accounts/api_tokens.html", {"form": form, "made": made, "tokens": tokens})


@never_cache
@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)  # another person's token: 404
    api_token_revoke(token=token, actor=request.user, request=request)
    messages.success(request, gettext("The token “%(name)s” is revoked: it no longer works.") % {"name": token.name})
    return redirect("accounts:api_tokens")
