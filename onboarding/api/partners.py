"""The API's partners resource (see onboarding/api/__init__.py)."""

urlpatterns: list = []
