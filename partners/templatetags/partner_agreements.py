"""Template tags of partners: the agreement line of a partner's page."""

from django import template

from partners.selectors import agreement_is_signer, agreement_version_offered

register = template.Library()


@register.inclusion_tag("partners/_agreement_summary.html", takes_context=True)
def agreement_summary(context) -> dict:
    """The partner page's agreement line: the current agreement, and for those who see the agreement page (the
    partner's admins, its account manager, admins) the version waiting to be signed, if any (two small queries,
    none for anyone else)."""
    partner, user = context["partner"], context["user"]
    may_see = context.get("may_download_agreement", False)
    offered = agreement_version_offered(partner=partner) if may_see else None
    return {
        "partner": partner, "agreement": context.get("agreement"), "may_review": context.get("may_review", False),
        "may_download_agreement": may_see, "offered": offered,
        "may_sign": offered is not None and agreement_is_signer(user=user, partner=partner),
    }
