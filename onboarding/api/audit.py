"""The API's audit resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
