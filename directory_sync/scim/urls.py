"""/scim/v2/: the SCIM service provider's endpoints."""

urlpatterns: list = []
