"""Claims Django's user model has no field for."""

from django.conf import settings
from django.db import models


class Claims(models.Model):
    """Per-user claims the IdP asserts; `email_verified` is what the portal's sign-in policy looks at."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idp_claims")
    email_verified = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user} (email_verified={self.email_verified})"
