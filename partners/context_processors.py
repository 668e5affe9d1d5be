"""The lapsed-agreement banner's data for every page: `agreement_block`, read only when a page draws it."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from partners.selectors import agreement_block_for


def agreement_block(request: HttpRequest) -> dict:
    """For a partner's person whose partner's agreement lapsed or was never signed: what is blocked and who can
    renew (partners.selectors.AgreementBlock); falsy otherwise. Lazy: one query when a page shows the banner,
    none for vendor staff, anonymous visitors or responses that draw no page."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "partner_id", None) is None:
        return {"agreement_block": None}
    return {"agreement_block": SimpleLazyObject(lambda: agreement_block_for(user=user))}
