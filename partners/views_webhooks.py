"""A partner's webhooks page: its endpoints with their latest deliveries, a form for a new one (its secret shown on
that answer only), and disable / enable / delete / send a test event. Its partner admins, its account manager and
admins; 404 for everyone else."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import PortalError
from partners.models import Partner, WebhookEndpoint, WebhookEvent
from partners.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_set_active,
    webhook_endpoint_test,
)
from partners.webhooks import SIGNATURE_HEADER, webhook_endpoints_with_recent, webhook_partner_for


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=_("Endpoint URL"), max_length=500, assume_scheme="https",
                         help_text=_("An https:// address on the public internet that answers a POST with 2xx."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=WebhookEvent.choices,
                                       widget=forms.CheckboxSelectMultiple)


def _partner(request: HttpRequest, slug: str) -> Partner:
    partner = webhook_partner_for(user=request.user, slug=slug)
    if partner is None:
        raise Http404
    return partner


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhooks_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The endpoints and the form for a new one; a new endpoint's secret is shown on this answer only."""
    partner = _partner(request, slug)
    form = WebhookEndpointForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                partner=partner, url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                actor=request.user, request=request)
        except PortalError as exc:
            form.add_error("url", str(exc))
        else:
            made = {"endpoint": endpoint, "secret": secret}
            form = WebhookEndpointForm()
    return render(request, "partners/webhooks.html", {
        "partner": partner, "form": form, "made": made, "signature_header": SIGNATURE_HEADER,
        "endpoints": webhook_endpoints_with_recent(partner=partner),
    })


def _endpoint(request: HttpRequest, slug: str, pk: int) -> WebhookEndpoint:
    partner = _partner(request, slug)
    return get_object_or_404(WebhookEndpoint.objects.select_related("partner"), pk=pk, partner=partner)


@never_cache
@login_required
@require_POST
def webhook_endpoint_action(request: HttpRequest, slug: str, pk: int, action: str) -> HttpResponse:
    """Disable, enable, delete or test one endpoint (another partner's: 404)."""
    endpoint = _endpoint(request, slug, pk)
    if action == "disable":
        webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=request.user, request=request)
        messages.success(request, gettext("The endpoint %(url)s is disabled: nothing is sent to it.")
                         % {"url": endpoint.url})
    elif action == "enable":
        webhook_endpoint_set_active(endpoint=endpoint, active=True, actor=request.user, request=request)
        messages.success(request, gettext("The endpoint %(url)s is enabled again.") % {"url": endpoint.url})
    elif action == "delete":
        webhook_endpoint_delete(endpoint=endpoint, actor=request.user, request=request)
        messages.success(request, gettext("The endpoint %(url)s is deleted.") % {"url": endpoint.url})
    elif action == "test":
        try:
            webhook_endpoint_test(endpoint=endpoint, actor=request.user, request=request)
        except PortalError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("A test event is on its way to %(url)s: its delivery shows below.")
                             % {"url": endpoint.url})
    else:
        raise Http404
    return redirect("partners:webhooks", slug=endpoint.partner.slug)
