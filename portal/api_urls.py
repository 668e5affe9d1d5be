"""/api/v1/: the REST API — its OpenAPI schema, its reference (a portal page drawn from the schema), and the
resources of each app."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from portal.api_docs import api_docs

app_name = "api"


class SchemaView(SpectacularAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", api_docs, name="docs"),
    path("", include("accounts.api.urls")),
    path("", include("onboarding.api.urls")),
]
