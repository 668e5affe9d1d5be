"""The API's directory resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
