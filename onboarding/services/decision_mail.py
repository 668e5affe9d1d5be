"""The requester's mail about a decision: one per list and decision, naming each person's real outcome.

An account manager decides a batch (one person, a page of ticks, or "all that match"); every list of the
batch gets one mail to the person who submitted it, built from each item's state right after the decision:
invited, account created, waiting for the directory (and why), an alias or forwarding address with the
primary to use instead, or rejected with the reason. A second batch on the same list later gets its own mail
about its own people. Recorded in the decision's transaction (the outbox), so it goes out once it commits.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy, ngettext_lazy

from core.links import absolute_url
from core.mail import MailKind, mail_kind_declare, mail_kind_recipients, mail_prepare, mails_send_on_commit
from core.mail_render import mail_text
from directory_sync.selectors import LookupKind, LookupResult
from onboarding.models import ItemState, RequestItem


def _submits_lists(user) -> bool:
    # Partner admins submit their partner's lists; vendor staff enter lists on a partner's behalf.
    return user.is_partner_admin or user.is_vendor_staff


REQUEST_DECIDED = mail_kind_declare(MailKind(
    key="request_decided", order=10, audience=_submits_lists,
    label=gettext_lazy("Decisions on lists I submitted: one mail per list and decision, with each person's outcome"),
))

LISTED_AT_MOST = 500  # people named in one mail; the list's page has them all

# The outcomes, in the order the mail lists them (what needs the requester's action first).
INVALID, REJECTED, WAITING, INVITED, ACCOUNT_CREATED = (
    "invalid_address", "rejected", "waiting", "invited", "account_created")
_ORDER = (INVALID, REJECTED, WAITING, INVITED, ACCOUNT_CREATED)
_OF_STATE = {
    ItemState.VALIDATED: INVITED, ItemState.INVITED: INVITED, ItemState.ACCOUNT_CREATED: ACCOUNT_CREATED,
    ItemState.AWAITING_VALIDATION: WAITING, ItemState.INVALID_ADDRESS: INVALID, ItemState.REJECTED: REJECTED,
}
_HEADINGS = {
    INVALID: gettext_lazy("Invalid address"),
    REJECTED: gettext_lazy("Rejected"),
    WAITING: gettext_lazy("Waiting for the directory"),
    INVITED: gettext_lazy("Invited"),
    ACCOUNT_CREATED: gettext_lazy("Account created"),
}
_SHORT = {
    REJECTED: gettext_lazy("rejected"), WAITING: gettext_lazy("waiting for the directory"),
    INVITED: gettext_lazy("invited"), ACCOUNT_CREATED: gettext_lazy("account created"),
}
_WHY_WAITING = {
    LookupKind.DISABLED: gettext_lazy("disabled in your directory"),
    LookupKind.CONFLICT: gettext_lazy("claimed by several people in your directory"),
}


@dataclass
class Entry:
    """One person of the mail: who, and what the decision did for them."""

    item: RequestItem
    outcome: str
    detail: str = ""
    kind: str = ""  # the directory's answer (LookupKind) of an invalid address or a person who waits


@dataclass
class Group:
    outcome: str
    heading: str
    explanation: str
    entries: list[Entry] = field(default_factory=list)
    more: int = 0


def request_items_decided_notify(items: list[RequestItem], *, answers: dict[int, LookupResult] | None = None) -> None:
    """Tell each list's requester (active and wanting it) once about this batch's people on their list; `answers`
    are the directory's answers of MSP items (why one waits, whether an address is an alias or forwarding).
    Call in the decision's transaction with the items in their new states."""
    answers = answers or {}
    by_list: dict[int, list[RequestItem]] = defaultdict(list)
    for item in items:
        by_list[item.request_id].append(item)
    if not by_list:
        return
    wanted = {user.pk for user in mail_kind_recipients(
        kind=REQUEST_DECIDED, users=[decided[0].request.submitted_by for decided in by_list.values()])}
    lists = [decided for decided in by_list.values() if decided[0].request.submitted_by_id in wanted]
    if not lists:
        return
    undecided = dict(RequestItem.objects.filter(
        request_id__in=[decided[0].request_id for decided in lists], state=ItemState.SUBMITTED,
    ).values_list("request_id").annotate(n=Count("pk")).values_list("request_id", "n"))
    mails_send_on_commit([_mail(decided, answers, undecided.get(decided[0].request_id, 0)) for decided in lists])


def _mail(decided: list[RequestItem], answers: dict[int, LookupResult], undecided: int):
    first = decided[0]
    requester, partner, portal_request = first.request.submitted_by, first.partner, first.request
    entries = [_entry(item, _kind(answers.get(item.pk))) for item in decided]
    context = {"requester": requester, "partner": partner, "portal_request": portal_request, "count": len(decided),
               "groups": _groups(entries), "undecided": undecided,
               "notifications_url": absolute_url("accounts:notifications"),
               "request_url": absolute_url("onboarding:request_detail", partner.slug, portal_request.pk)}
    if len(decided) == 1:
        entry = entries[0]
        return mail_prepare(to=requester.display_email, template="request_item_decided", partner=partner,
                            subject=_one_subject(entry), context=context | {"entry": entry})
    subject = mail_text(ngettext_lazy("Your portal request list for %(partner)s: %(count)d person decided",
                                      "Your portal request list for %(partner)s: %(count)d people decided",
                                      len(decided)), partner=partner, count=len(decided))
    return mail_prepare(to=requester.display_email, template="request_items_decided", partner=partner,
                        subject=subject, context=context)


def decision_outcome_entries(items: list[RequestItem], *, kinds: dict[int, str]) -> list[Entry]:
    """Each person's outcome as the decision mail names it, for the page that follows a decision too; `kinds` are
    the directory's answers (LookupKind) of the items that wait or have an invalid address."""
    return [_entry(item, kinds.get(item.pk, "")) for item in items]


def _kind(answer: LookupResult | None) -> str:
    return answer.kind if answer is not None else ""


def _entry(item: RequestItem, kind: str) -> Entry:
    outcome = _OF_STATE.get(item.state, INVITED)
    if outcome == INVALID:
        url = absolute_url("onboarding:person_timeline", item.partner.slug, item.pk)
        values = {"address": item.display_email, "primary": item.suggested_email, "url": url}
        if kind == LookupKind.FORWARDING:
            detail = mail_text(gettext_lazy("a forwarding address of %(primary)s: use %(primary)s. Request "
                                            "%(primary)s instead here: %(url)s"), **values)
        elif kind == LookupKind.ALIAS:
            detail = mail_text(gettext_lazy("an alias of %(primary)s: use %(primary)s. Request %(primary)s instead "
                                            "here: %(url)s"), **values)
        else:
            detail = mail_text(gettext_lazy("an alias or forwarding address of %(primary)s: use %(primary)s. "
                                            "Request %(primary)s instead here: %(url)s"), **values)
        return Entry(item, outcome, detail, kind)
    if outcome == WAITING:
        why = _WHY_WAITING.get(kind, gettext_lazy("not on your account yet"))
        until = _local_date(item.awaiting_until) if item.awaiting_until else ""  # the reader's day
        return Entry(item, outcome, mail_text(gettext_lazy("%(why)s; waits until %(until)s"), why=why, until=until),
                     kind)
    if outcome == INVITED and item.state == ItemState.INVITED:
        return Entry(item, outcome, gettext_lazy("their invitation already open serves this list too"))
    if outcome == REJECTED:
        return Entry(item, outcome, mail_text(gettext_lazy("reason: %(reason)s"), reason=item.rejection_reason))
    return Entry(item, outcome)


# Evaluated when drawn (a page, or a mail in its recipient's zone), not when the entry is made.
_local_date = lazy(lambda moment: timezone.localdate(moment).isoformat(), str)


def _explanation(outcome: str) -> str:
    return {
        INVALID: gettext_lazy("Only a primary address can sign in; aliases and forwarding addresses cannot. Request "
                         "the primary address instead (one click on the person's page)."),
        REJECTED: gettext_lazy("Your account manager rejected these requests. You can request a person again with a "
                          "note on their page."),
        WAITING: gettext_lazy("Not (yet) an enabled person with this primary address on your account. The invitation "
                         "goes out by itself once they are (after your next directory sync); if they are not by "
                         "the date shown, the request expires and you are told."),
        INVITED: gettext_lazy("Confirmed on your account: the invitation is on its way to them."),
        ACCOUNT_CREATED: gettext_lazy("The account is set up: each person receives a mail to start using it."),
    }[outcome]


def decision_outcome_groups(entries: list[Entry]) -> list[Group]:
    """The entries by outcome, in the mail's order (what needs the requester's action first)."""
    return _groups(entries)


def _groups(entries: list[Entry]) -> list[Group]:
    """The entries by outcome, in `_ORDER`, at most LISTED_AT_MOST named in all (each group counts the rest)."""
    groups = {outcome: Group(outcome, _HEADINGS[outcome], _explanation(outcome)) for outcome in _ORDER}
    listed = 0
    for entry in sorted(entries, key=lambda e: (_ORDER.index(e.outcome), e.item.pk)):
        group = groups[entry.outcome]
        if listed < LISTED_AT_MOST:
            group.entries.append(entry)
            listed += 1
        else:
            group.more += 1
    return [group for group in groups.values() if group.entries or group.more]


def _one_subject(entry: Entry):
    values = {"email": entry.item.display_email, "primary": entry.item.suggested_email}
    if entry.outcome == INVALID:
        return mail_text(gettext_lazy("Portal request for %(email)s: not a primary address, use %(primary)s"),
                         **values)
    return mail_text(gettext_lazy("Portal request for %(email)s: %(outcome)s"), **values,
                     outcome=_SHORT[entry.outcome])
