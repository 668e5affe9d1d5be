"""/api/v1/: the REST API — its OpenAPI schema, its reference (a portal page drawn from the schema), and the
resources of each app."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from core.api.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from core.api.problems import NO_SUCH_ADDRESS, TITLES
from portal.api_docs import api_docs

app_name = "api"


def not_found(request, rest=""):
    """Any other address under /api/v1/: a 404 in the API's problem-details form, not the portal's HTML page."""
    return JsonResponse({"type": "about:blank", "title": str(TITLES[404]), "status": 404,
                         "detail": str(NO_SUCH_ADDRESS)}, status=404, content_type=PROBLEM_CONTENT_TYPE)


class SchemaView(SpectacularAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", api_docs, name="docs"),
    path("", include("accounts.api.urls")),
    path("", include("onboarding.api.urls")),
    re_path(r"^(?P<rest>.*)$", not_found),
]
