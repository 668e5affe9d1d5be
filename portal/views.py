"""The dashboard shell: what each role sees first after signing in."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from core.paging import page_of
from onboarding.selectors import partner_overview, partners_visible_to
from partners.selectors import agreement_is_current


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The partners the signed-in person may see, a page at a time, with their agreement and onboarding state."""
    partners = page_of(partner_overview(partners=partners_visible_to(user=request.user)), request=request)
    for partner in partners:
        partner.agreement_current = agreement_is_current(
            signed_at=partner.agreement_signed_at, valid_until=partner.agreement_valid_until
        )
    return render(request, "portal/dashboard.html", {"partners": partners})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico; the icon is a static file (hashed name in production)."""
    return redirect(static("favicon.svg"), permanent=True)
