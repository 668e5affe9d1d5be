"""The Django admin, behind two-factor: only vendor staff who signed in with a second factor enter."""

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from portal.operations import operations_summary


class PortalAdminSite(OTPAdminSite):
    site_header = _("Partner Portal administration")
    site_title = _("Partner Portal admin")
    index_title = _("Partners, people and onboarding")

    def index(self, request, extra_context=None):
        """The front page, with the operations summary: mail and invites waiting or failed, stale syncs."""
        return super().index(request, {**(extra_context or {}), "operations": operations_summary()})

    def login(self, request, extra_context=None):
        """Sign-in happens on the portal's own pages (identifier first, then the second factor)."""
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        return redirect(f"{reverse('accounts:login')}?{urlencode({REDIRECT_FIELD_NAME: target})}")
