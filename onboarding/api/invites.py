"""The API's invites resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
