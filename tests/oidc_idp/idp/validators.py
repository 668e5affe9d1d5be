"""The OAuth2 validator that puts each user's own claims into the ID token and userinfo."""

from collections.abc import Callable
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from idp.models import Claims


def _email_verified(request: Any) -> bool:
    # A user created outside bootstrap (none should be) has no row: unverified is the safe reading.
    verified = Claims.objects.filter(user=request.user).values_list("email_verified", flat=True).first()
    return bool(verified)


class ClaimsValidator(OAuth2Validator):
    """Adds the standard email and profile claims.

    DOT filters them by the granted scopes (`oidc_claim_scope`: email and email_verified need "email", the
    names need "profile"). The email is returned exactly as configured, case included: the portal's matching
    of mixed-case and alias addresses is what the tests exercise.
    """

    def get_additional_claims(self) -> dict[str, Callable[[Any], Any]]:
        # The request-agnostic form (callables taking the request) lets DOT also list these claims in the
        # discovery document's claims_supported, as a real provider does.
        return {
            "email": lambda request: request.user.email,
            "email_verified": _email_verified,
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "preferred_username": lambda request: request.user.username,
        }
