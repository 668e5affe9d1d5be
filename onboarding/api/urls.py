"""The API's resources of onboarding, one module each; every module lists its own `urlpatterns`."""

from django.urls import include, path

urlpatterns = [
    path("", include("onboarding.api.partners")),
    path("", include("onboarding.api.people")),
    path("", include("onboarding.api.requests")),
    path("", include("onboarding.api.invites")),
    path("", include("onboarding.api.directory")),
    path("", include("onboarding.api.audit")),
]
