"""Submitting portal-user lists (R2): by form, by CSV, or by the account manager on the partner's behalf."""

import csv
import io
import itertools

from django.db import transaction

from accounts.models import User
from core.audit import audit_record
from core.emails import InvalidEmail, normalize_email
from core.links import absolute_url
from core.mail import mail_send_on_commit
from onboarding.errors import EMPTY_LIST, ListInvalid
from onboarding.models import PortalUserRequest, RequestItem, RequestSource
from onboarding.services.checks import rows_check
from partners.models import Partner
from partners.selectors import agreement_require

MAX_ROWS = 1000


def rows_validate(rows: list[tuple[str, str]], *, numbers: list[int] | None = None) -> list[tuple[str, str]]:
    """Names and addresses, checked whole: a bad or repeated row rejects the list.

    Rows are numbered from 1, or by `numbers` (a CSV file's own row numbers)."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    cleaned = []
    for number, (name, email) in zip(numbers or itertools.count(1), rows, strict=False):
        name, email = (name or "").strip(), (email or "").strip()
        if not name and not email:
            continue
        try:
            address = normalize_email(email)
        except InvalidEmail:
            problems.append((number, f"{email!r} is not an email address" if email else "the email address is missing"))
            continue
        if not name:
            problems.append((number, "the name is missing"))
            continue
        if address in seen:
            problems.append((number, f"{email} is already in row {seen[address]}"))
            continue
        seen[address] = number
        cleaned.append((name, email))
    if problems:
        raise ListInvalid(problems)
    if not cleaned:
        raise ListInvalid([(1, EMPTY_LIST)])
    if len(cleaned) > MAX_ROWS:
        raise ListInvalid([(MAX_ROWS + 1, f"a list holds at most {MAX_ROWS} people")])
    return cleaned


def rows_from_csv(data: bytes) -> list[tuple[str, str]]:
    """Rows of a CSV upload with the columns name and email (header row required, any order)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListInvalid([(1, "the file is not UTF-8 text")]) from exc
    reader = csv.reader(io.StringIO(text))
    header = [c.strip().lower() for c in next(reader, [])]
    if "name" not in header or "email" not in header:
        raise ListInvalid([(1, "the header row must name the columns name and email")])
    rows, problems = [], []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append((number, f"{len(row)} columns, expected {len(header)}"))
            continue
        cells = dict(zip(header, row, strict=True))
        rows.append((number, cells["name"], cells["email"]))
    if problems:
        raise ListInvalid(problems)
    # Problems name the file's rows (the header is row 1), not positions in the list.
    rows_validate([(name, email) for _, name, email in rows], numbers=[number for number, _, _ in rows])
    return [(name, email) for _, name, email in rows]


def request_submit(
    *, partner: Partner, actor: User, rows: list[tuple[str, str]], source: str = RequestSource.FORM,
    note: str = "", received_from: str = "", request=None,
) -> PortalUserRequest:
    """Create a list and its items, each labelled by the directory check; tell the account manager."""
    agreement_require(partner=partner)
    cleaned = rows_validate(rows)
    with transaction.atomic():
        portal_request = PortalUserRequest.objects.create(
            partner=partner, submitted_by=actor, source=source, note=note, received_from=received_from
        )
        checks = rows_check(partner=partner, emails=[email for _, email in cleaned])
        items = []
        for (name, email), check in zip(cleaned, checks, strict=True):
            items.append(RequestItem(
                request=portal_request, partner=partner, name=name, display_email=email,
                email=normalize_email(email), check_result=check.result if check.result != "invalid" else "",
                suggested_email=check.suggestion,
            ))
        RequestItem.objects.bulk_create(items)
        for item in portal_request.items.all():
            audit_record(actor=actor, action="request.item_submitted", target=item, partner=partner, request=request,
                         data={"source": source, "check": item.check_result, "request": portal_request.pk})
        manager = partner.account_manager
        if manager is not None:
            mail_send_on_commit(
                to=manager.display_email, subject=f"New portal-user list from {partner} to review",
                template="request_submitted", partner=partner,
                context={"partner": partner, "portal_request": portal_request, "count": len(items),
                         "submitted_by": actor, "review_url": absolute_url("onboarding:review_queue")},
            )
    return portal_request

