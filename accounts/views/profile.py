"""The person's time zone: chosen on their security page, or proposed by their browser on first sign-in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import TimeZoneForm
from accounts.services.profile import user_time_zone_propose, user_time_zone_set
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
