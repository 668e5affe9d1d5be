"""The web benchmark's data set in numbers and names: its size, its shares and the addresses the phases reuse."""

from __future__ import annotations

from onboarding.models import InviteState, ItemState

# The full size (scale 1), from issue 11.
FULL = {
    "partners": 300,
    "big_people": 50_000,  # the big MSP's directory
    "other_people": 50_000,  # every other MSP's, round-robin
    "users": 3_600,  # portal users, vendor staff included
    "items": 30_000,  # request items, the fixed 1,000-person list included
    "invites": 12_700,
    "audit": 200_000,
    "mail": 20_000,  # outbound mail (not in the issue: enough for the admin's list to be a big table)
}
PARTNERS_PER_MANAGER = 10
ADMINS = 3
BIG_USER_SHARE = 0.15  # of the partner users: the big MSP's
BIG_ITEM_SHARE = 0.25  # of the request items: the big MSP's (thousands at full size)
EVERY_STATE_K = 900_000  # the named partners' lists of every state: their people's numbers
FIXED_LIST = 1_000  # the big MSP's submitted 1,000-person list (request detail, admin change page)
PASSWORD = "bench-portal-2026"  # noqa: S105 (every benchmark user's; the database is thrown away)
VENDOR_DOMAIN = "vendor.example"

BIG, SMALL, CSV_TARGET = "big-msp", "small-reseller", "csv-import"

FIRST = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ida", "Jon", "Kai", "Lena", "Mo", "Nia",
         "Otto", "Pia", "Quinn", "Rosa", "Sam", "Tom", "Uma", "Vic", "Wim", "Xia", "Yann", "Zoe"]
LAST = ["Adams", "Berg", "Costa", "Dahl", "Ernst", "Frey", "Gomez", "Hahn", "Ito", "Jung", "Klein", "Lund",
        "Meyer", "Novak", "Olsen", "Petit", "Quist", "Roth", "Silva", "Thiel", "Ueda", "Vogel", "Wolf", "Young"]
# The portal's own action names: of a request item's way to access, and of a partner's other events.
ITEM_ACTIONS = ["request.item_submitted", "request.item_approved", "request.item_rejected",
                "request.item_awaiting_validation", "request.item_validated", "request.item_account_created",
                "request.item_expired"]
ACTIONS = ["signin.succeeded", "signin.failed", "signin.locked_out", "directory_sync.run", "two_factor.enrolled",
           "password.reset_requested", "mail.failed"]

# Per 300 items: the states of 29,000 items (the fixed list is all submitted); 127 of 300 carry an invite, so
# 12,700 of 30,000 items have one.
ITEM_STATES = {
    ItemState.SUBMITTED: 60, ItemState.APPROVED: 10, ItemState.REJECTED: 40, ItemState.AWAITING_VALIDATION: 25,
    ItemState.VALIDATED: 8, ItemState.INVALID_ADDRESS: 30, ItemState.INVITED: 40, ItemState.ACCOUNT_CREATED: 22,
    ItemState.ACCEPTED: 55, ItemState.EXPIRED: 6, ItemState.REVOKED: 4,
}
INVITE_OF_ITEM = {  # an item's state -> its invite's state
    ItemState.INVITED: InviteState.SENT, ItemState.ACCOUNT_CREATED: InviteState.SENT,
    ItemState.ACCEPTED: InviteState.ACCEPTED, ItemState.EXPIRED: InviteState.EXPIRED,
    ItemState.REVOKED: InviteState.REVOKED,
}
RESELLER_STATE = {  # resellers' people get accounts straight away (R3): no validation states
    ItemState.AWAITING_VALIDATION: ItemState.APPROVED, ItemState.VALIDATED: ItemState.APPROVED,
    ItemState.INVALID_ADDRESS: ItemState.REJECTED, ItemState.INVITED: ItemState.ACCOUNT_CREATED,
}


def counts_at(scale: float) -> dict[str, int]:
    counts = {k: max(1, round(v * scale)) for k, v in FULL.items()}
    counts["partners"] = max(6, counts["partners"])  # the three named partners and a few of each kind
    return counts


def domain_of(slug: str) -> str:
    return f"{slug}.example"


def person_name(k: int) -> tuple[str, str]:
    return FIRST[k % len(FIRST)], LAST[(k // len(FIRST)) % len(LAST)]


def big_primary(k: int) -> str:
    """The display form of the primary address of the big MSP's person k (the lists and lookups use them)."""
    first, last = person_name(k)
    return f"{first}.{last}.{k}@{domain_of(BIG)}"
