"""Root URLs. No route serves uploads, not even under DEBUG: agreement documents go through partners'
permission-checked download view."""

from django.contrib import admin
from django.urls import include, path

from portal import health, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("scim/v2/", include("directory_sync.scim.urls")),
    path("", include("onboarding.urls")),
    path("", include("partners.urls")),
    path("admin/", admin.site.urls),
]
