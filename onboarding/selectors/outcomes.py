"""What a decision did for each person, for the page that follows it: the outcomes the decision mail names.

The decision keeps, for each person it decided, the state it left them in and the directory's answer
(`decision_outcomes_kept`); the page after the redirect groups them as the requester's mail does
(`decision_outcomes`), each group with the one line of what happens next and who acts.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from directory_sync.selectors import recipient_lookups
from onboarding.explanations import item_state_next
from onboarding.models import ItemState, RequestItem
from onboarding.selectors.scope import partners_visible_to
from onboarding.services.decision_mail import (
    ACCOUNT_CREATED,
    INVALID,
    INVITED,
    REJECTED,
    WAITING,
    Entry,
    decision_outcome_entries,
    decision_outcome_groups,
)

# The state whose explanation an outcome's group shows.
_STATE_OF_OUTCOME = {
    INVALID: ItemState.INVALID_ADDRESS, REJECTED: ItemState.REJECTED, WAITING: ItemState.AWAITING_VALIDATION,
    INVITED: ItemState.INVITED, ACCOUNT_CREATED: ItemState.ACCOUNT_CREATED,
}
_ASKS_THE_DIRECTORY = (ItemState.INVALID_ADDRESS, ItemState.AWAITING_VALIDATION)


@dataclass(frozen=True)
class Outcome:
    """One group of the page: the outcome, its heading, what happens next, and the people (and how many more)."""

    outcome: str
    heading: str
    state: str
    next_step: str
    entries: list[Entry]
    more: int

    @property
    def count(self) -> int:
        return len(self.entries) + self.more


def decision_outcomes_kept(items: Iterable[RequestItem]) -> list[list]:
    """What the page after a decision needs of the items it decided, small enough for the session: each id, the
    state the decision left it in (a worker may move it on before the page is drawn) and, for a person who waits
    or whose address is not a primary one, the directory's answer (one look-up per partner)."""
    items = list(items)
    asked: dict[int, list[RequestItem]] = defaultdict(list)
    for item in items:
        if item.state in _ASKS_THE_DIRECTORY:
            asked[item.partner_id].append(item)
    kinds: dict[int, str] = {}
    for partner_id, of_partner in asked.items():
        answers = recipient_lookups(partner_id=partner_id, addresses=[item.email for item in of_partner])
        kinds |= {item.pk: str(answers[item.email].kind) for item in of_partner if item.email in answers}
    return [[item.pk, str(item.state), kinds.get(item.pk, "")] for item in items]


def decision_outcomes(*, user, kept: list) -> list[Outcome]:
    """The people of a decision that `user` may see, grouped by outcome in the order of the decision mail."""
    decided = {row[0]: (row[1], row[2]) for row in kept if isinstance(row, list | tuple) and len(row) == 3}
    if not decided:
        return []
    items = list(RequestItem.objects.filter(pk__in=list(decided), partner__in=partners_visible_to(user=user))
                 .select_related("partner").order_by("pk"))
    for item in items:
        item.state = decided[item.pk][0]  # the outcome of the decision, not what came after it
    entries = decision_outcome_entries(items, kinds={item.pk: decided[item.pk][1] for item in items})
    return [Outcome(group.outcome, group.heading, _STATE_OF_OUTCOME[group.outcome],
                    item_state_next(_STATE_OF_OUTCOME[group.outcome]), group.entries, group.more)
            for group in decision_outcome_groups(entries)]
