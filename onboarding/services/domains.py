"""A mail domain added to one partner's account after another partner asked for people there.

At submission an address of another account's domain is refused (services.requests). A domain added
later — in the partners admin — can make requests already open for it wrong: another partner asked for
people of a company that is not theirs. Such items are flagged for their account manager (a check
result shown on the review and partner pages, an audit event and a mail), never decided for them.
"""

from itertools import groupby

from django.db import transaction
from django.utils.text import format_lazy

from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_send_on_commit
from onboarding.errors import DOMAIN_FLAGGED_SUBJECT
from onboarding.models import CheckResult, ItemState, RequestItem

OPEN_STATES = (ItemState.SUBMITTED, ItemState.AWAITING_VALIDATION)


def request_items_flag_foreign(*, partner_id: int, domain: str, actor=None) -> list[RequestItem]:
    """Flag the open items of other partners with an address at `domain`, now an account domain of
    `partner_id`; audit each and mail each partner's account manager once. Items flagged already are left."""
    with transaction.atomic():
        items = list(
            RequestItem.objects.select_for_update(of=("self",)).select_related("partner__account_manager")
            .filter(state__in=OPEN_STATES, email__endswith=f"@{domain}")
            .exclude(partner_id=partner_id).exclude(check_result=CheckResult.FOREIGN_DOMAIN)
            .order_by("partner_id", "pk")
        )
        for item in items:
            item.check_result = CheckResult.FOREIGN_DOMAIN
            item.save(update_fields=["check_result", "updated_at"])
            # Neither the data nor the mail name the partner that owns the domain now.
            audit_record(actor=actor, action="request.item_flagged", target=item, partner=item.partner,
                         data={"domain": domain, "check": CheckResult.FOREIGN_DOMAIN})
        for _, flagged in groupby(items, key=lambda item: item.partner_id):
            _manager_notify(list(flagged), domain)
    return items


def _manager_notify(items: list[RequestItem], domain: str) -> None:
    partner = items[0].partner
    manager = partner.account_manager
    if manager is None:
        return  # the partner's page shows the flag to whoever manages it later
    mail_send_on_commit(
        to=manager.display_email, subject=format_lazy(DOMAIN_FLAGGED_SUBJECT, partner=partner, domain=domain),
        template="request_items_flagged", partner=partner,
        context={"partner": partner, "manager": manager, "domain": domain, "items": items,
                 "partner_url": absolute_url("onboarding:partner_detail", partner.slug),
                 "review_url": absolute_url("onboarding:review_queue")},
    )
