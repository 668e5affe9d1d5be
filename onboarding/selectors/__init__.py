"""Read-side queries of onboarding, shared by views, admin and commands, one module per concern:

- `scope`: which partners a person may see, the partner of a URL (404 otherwise: never 403, nothing can be
  probed), the partner overview and its filters, what a list's search box matches;
- `review`: the review queue;
- `domains`: whose domain an address is;
- `partner_page`: a partner's lists a page at a time, their lengths, and the single rows its actions name;
- `invites`: invites by id, token and state;
- `funnels`: funnels and median times to access, for one partner or a page of them;
- `timeline`: a requested person's way to access;
- `people`: who has access (the portal users export).
"""

from onboarding.models import PENDING_STATES
from onboarding.selectors.domains import (
    OTHER_PARTNER,
    VENDOR,
    foreign_domains,
    vendor_domains,
)
from onboarding.selectors.funnels import (
    FUNNEL_STAGES,
    funnel,
    partner_funnels,
    time_to_access,
    times_to_access,
)
from onboarding.selectors.invites import (
    invite_by_pk,
    invite_by_token,
    invite_by_token_hash,
    invite_counts,
    token_hash,
)
from onboarding.selectors.partner_page import (
    FILTERED_LISTS,
    PartnerCounts,
    follow_ups_marked,
    item_invites,
    partner_counts,
    partner_failed_invites,
    partner_failed_mail,
    partner_invite,
    partner_invites,
    partner_item,
    partner_items,
    partner_mail,
    partner_pending_items,
    partner_people,
    partner_request,
    partner_requests,
    request_items,
)
from onboarding.selectors.people import (
    ROLE_LABELS,
    PersonRow,
    PersonStatus,
    people_with_access,
)
from onboarding.selectors.review import (
    review_items_chosen,
    review_queue,
    review_queue_summary,
)
from onboarding.selectors.scope import (
    AgreementFilter,
    name_or_address_starts_with,
    partner_for,
    partner_overview,
    partners_matching,
    partners_visible_to,
)
from onboarding.selectors.timeline import (
    TIMELINE_STEPS,
    item_events,
    item_timeline,
    timeline_steps,
)

__all__ = [
    "FILTERED_LISTS",
    "FUNNEL_STAGES",
    "OTHER_PARTNER",
    "PENDING_STATES",
    "ROLE_LABELS",
    "TIMELINE_STEPS",
    "VENDOR",
    "AgreementFilter",
    "PartnerCounts",
    "PersonRow",
    "PersonStatus",
    "follow_ups_marked",
    "foreign_domains",
    "funnel",
    "invite_by_pk",
    "invite_by_token",
    "invite_by_token_hash",
    "invite_counts",
    "item_events",
    "item_invites",
    "item_timeline",
    "name_or_address_starts_with",
    "partner_counts",
    "partner_failed_invites",
    "partner_failed_mail",
    "partner_for",
    "partner_funnels",
    "partner_invite",
    "partner_invites",
    "partner_item",
    "partner_items",
    "partner_mail",
    "partner_overview",
    "partner_pending_items",
    "partner_people",
    "partner_request",
    "partner_requests",
    "partners_matching",
    "partners_visible_to",
    "people_with_access",
    "request_items",
    "review_items_chosen",
    "review_queue",
    "review_queue_summary",
    "time_to_access",
    "timeline_steps",
    "times_to_access",
    "token_hash",
    "vendor_domains",
]
