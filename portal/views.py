"""The dashboard shell: what each role sees first after signing in."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from onboarding.selectors import partner_overview, partners_visible_to
from partners.selectors import agreement_is_current


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The partners the signed-in person may see, with their agreement and onboarding state."""
    partners = list(partner_overview(partners=partners_visible_to(user=request.user)))
    for partner in partners:
        partner.agreement_current = agreement_is_current(
            signed_at=partner.agreement_signed_at, valid_until=partner.agreement_valid_until
        )
    return render(request, "portal/dashboard.html", {"partners": partners})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico; the icon is a static file (hashed name in production)."""
    return redirect(static("favicon.svg"), permanent=True)
