"""The API's people resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
