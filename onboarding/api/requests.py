"""The API's requests resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
