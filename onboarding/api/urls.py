"""The API's resources of onboarding, one module each; every module lists its own `urlpatterns`."""


urlpatterns = [
]
