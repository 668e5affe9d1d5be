"""The person's time zone (chosen on their security page, or proposed by their browser on first sign-in) and
language (chosen there or with the footer's switch; the browser's until then)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import LanguageForm, TimeZoneForm
from accounts.services.profile import user_language_set, user_time_zone_propose, user_time_zone_set
from accounts.views.two_factor import security


@never_cache
@login_required
@require_POST
def time_zone(request: HttpRequest) -> HttpResponse:
    """Save the zone chosen on the security page; a wrong one shows the page again with the error."""
    form = TimeZoneForm(request.POST, current=request.user.time_zone)
    if not form.is_valid():
        return security(request, time_zone_form=form)
    user = user_time_zone_set(user=request.user, time_zone=form.cleaned_data["time_zone"], actor=request.user,
                              request=request)
    messages.success(request, gettext("Times are now shown in %(zone)s.") % {"zone": user.time_zone})
    return redirect("accounts:security")


@never_cache
@login_required
@require_POST
def time_zone_propose(request: HttpRequest) -> JsonResponse:
    """The browser's zone (static/js/time-zone.js), kept only while the person has none: says whether it was."""
    kept = user_time_zone_propose(user=request.user, time_zone=request.POST.get("time_zone", "").strip(),
                                  request=request)
    return JsonResponse({"kept": kept, "time_zone": request.user.time_zone})


@never_cache
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the portal's language: the person's own choice when signed in (their mails follow it), and a cookie
    for the pages shown signed out on this browser. Back to the page the switch was on (a page of this site)."""
    form = LanguageForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("accounts:security") if request.user.is_authenticated else reverse("accounts:login")
    if not form.is_valid():
        messages.error(request, form.errors["language"][0])
        return redirect(back)
    chosen = form.cleaned_data["language"]
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=chosen, actor=request.user, request=request)
    translation.activate(chosen)  # the message below, in the language just chosen
    messages.success(request, gettext("The portal is now shown in %(language)s.") % {
        "language": dict(settings.LANGUAGES)[chosen]})
    response = redirect(back)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
                        path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                        secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                        samesite=settings.LANGUAGE_COOKIE_SAMESITE)
    return response
