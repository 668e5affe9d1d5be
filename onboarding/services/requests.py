"""Submitting portal-user lists (R2): by form, by CSV, or by the account manager on the partner's behalf."""

import itertools
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import Role, User
from core.audit import audit_event, audit_record_many
from core.csvfiles import csv_records
from core.emails import InvalidEmail, domain_of, normalize_email
from core.links import absolute_url
from core.mail import mail_send_on_commit
from onboarding.errors import (
    CSV_HEADER,
    EMAIL_TOO_LONG,
    EMPTY_LIST,
    LIST_FILE_TOO_LARGE,
    LIST_TOO_MANY_ROWS,
    NAME_CONTROL_CHARACTERS,
    NAME_TOO_LONG,
    NOTE_CONTROL_CHARACTERS,
    ROLE_UNKNOWN,
    ListInvalid,
    ListTooLarge,
    OnboardingError,
)
from onboarding.models import PortalUserRequest, RequestItem, RequestSource
from onboarding.permissions import may_review
from onboarding.selectors import foreign_domains
from onboarding.services.checks import foreign_domain_message, rows_check
from onboarding.validators import has_control_characters
from partners.models import Partner
from partners.selectors import agreement_require

MAX_ROWS = 1000
NAME_MAX, EMAIL_MAX = 200, 254  # RequestItem's columns
REQUEST_LIST_MAX_BYTES = 1024 * 1024  # the default of the setting of that name


# What a list may say in its role column (any case; empty: partner staff).
ROLE_WORDS = {
    "": Role.PARTNER_STAFF, "staff": Role.PARTNER_STAFF, "partner staff": Role.PARTNER_STAFF,
    "partner_staff": Role.PARTNER_STAFF, "admin": Role.PARTNER_ADMIN, "partner admin": Role.PARTNER_ADMIN,
    "partner_admin": Role.PARTNER_ADMIN,
}


def _role_of(word: str) -> str | None:
    return ROLE_WORDS.get(" ".join((word or "").lower().split()))


def _row_problem(name: str, email: str) -> tuple[str, str]:
    """(normalised address, "") for a good row, or ("", the reason it is refused)."""
    if len(email) > EMAIL_MAX:
        return "", EMAIL_TOO_LONG.format(limit=EMAIL_MAX)
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return "", (gettext("{email!r} is not an email address").format(email=email) if email
                    else gettext("the email address is missing"))
    if not name:
        return "", gettext("the name is missing")
    if len(name) > NAME_MAX:
        return "", NAME_TOO_LONG.format(limit=NAME_MAX)
    if has_control_characters(name):
        # A line break in a name would forge lines of every mail that greets the person by it.
        return "", NAME_CONTROL_CHARACTERS
    return address, ""


def rows_validate(
    rows: list[tuple[str, ...]], *, numbers: list[int] | None = None, partner: Partner | None = None,
) -> list[tuple[str, str, str]]:
    """Names, addresses and (optionally, third) roles, checked whole: a bad or repeated row, or (with `partner`) an
    address of another account's domain, rejects the list. Rows are numbered from 1, or by `numbers` (a CSV file's
    own). Returns (name, email, role) rows, the role a Role value (partner staff unless the row says admin)."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    cleaned = []
    for number, (name, email, *rest) in zip(numbers or itertools.count(1), rows, strict=False):
        name, email = (name or "").strip(), (email or "").strip()
        if not name and not email:
            continue
        address, problem = _row_problem(name, email)
        role = _role_of(rest[0] if rest else "")
        if problem:
            problems.append((number, problem))
        elif role is None:
            problems.append((number, ROLE_UNKNOWN.format(role=rest[0])))
        elif address in seen:
            problems.append((number, gettext("{email} is already in row {row}").format(email=email, row=seen[address])))
        else:
            seen[address] = number
            cleaned.append((number, name, email, address, role))
    if partner is not None:
        foreign = foreign_domains(partner=partner, domains={domain_of(row[3]) for row in cleaned})
        problems += [(number, foreign_domain_message(email, foreign[domain_of(address)]))
                     for number, _, email, address, _ in cleaned if domain_of(address) in foreign]
    if problems:
        raise ListInvalid(sorted(problems))
    if not cleaned:
        raise ListInvalid([(1, EMPTY_LIST)])
    if len(cleaned) > MAX_ROWS:
        raise ListInvalid([(MAX_ROWS + 1, gettext("a list holds at most {limit} people").format(limit=MAX_ROWS))])
    return [(name, email, role) for _, name, email, _, role in cleaned]


def _size_check(file: File) -> None:
    # Before a byte is read: a list is a few hundred lines, and the decoding and checks below cost per row.
    limit = getattr(settings, "REQUEST_LIST_MAX_BYTES", REQUEST_LIST_MAX_BYTES)
    if file.size > limit:
        raise ListTooLarge(LIST_FILE_TOO_LARGE.format(size=filesizeformat(file.size), limit=filesizeformat(limit)))


def _csv_rows(records: Iterator, header: list[str]) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, str]]]:
    """The numbered (name, email, role) rows after the header, and the problems; reading stops at the first row over
    MAX_ROWS (the rest of a file that is too long is never decoded)."""
    rows, problems = [], []
    for number, cells, unreadable in records:
        if unreadable:
            problems.append((number, unreadable))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append((number, LIST_TOO_MANY_ROWS.format(limit=MAX_ROWS)))
            break
        if len(cells) != len(header):
            problems.append((number, gettext("{count} columns, expected {expected}").format(
                count=len(cells), expected=len(header))))
            continue
        named = dict(zip(header, cells, strict=True))
        rows.append((number, named["name"], named["email"], named.get("role", "")))
    return rows, problems


def rows_from_csv(data: bytes | IO[bytes], *, partner: Partner | None = None) -> list[tuple[str, str, str]]:
    """Rows of a CSV upload (bytes, or an uploaded file) with the columns name and email, and optionally role
    (staff or admin; header row required, any order), read row by row; ListTooLarge before reading a file over
    REQUEST_LIST_MAX_BYTES, ListInvalid with the file's row numbers for bad rows (and, with `partner`, for
    addresses of other accounts' domains)."""
    file = ContentFile(data) if isinstance(data, bytes | bytearray) else File(data)
    _size_check(file)
    records = csv_records(file)
    number, cells, unreadable = next(records, (1, [], ""))
    if unreadable:
        raise ListInvalid([(number, unreadable)])
    header = [cell.strip().lower() for cell in cells]
    if "name" not in header or "email" not in header:
        raise ListInvalid([(1, CSV_HEADER)])
    rows, problems = _csv_rows(records, header)
    if problems:
        raise ListInvalid(problems)
    # Problems name the file's rows (the header is row 1), not positions in the list.
    return rows_validate([row[1:] for row in rows], numbers=[row[0] for row in rows], partner=partner)


def request_source(*, actor, partner, csv: bool, api: bool = False) -> str:
    """Where a list comes from, as it is recorded: entered on the partner's behalf (its account manager or an admin,
    on the page or through the API), or the partner's own: sent through the REST API, or typed or uploaded as CSV."""
    if may_review(actor, partner) and actor.partner_id != partner.pk:
        return RequestSource.ON_BEHALF
    if api:
        return RequestSource.API
    return RequestSource.CSV if csv else RequestSource.FORM


def request_submit(
    *, partner: Partner, actor: User, rows: list[tuple[str, ...]], source: str = RequestSource.FORM,
    note: str = "", received_from: str = "", request=None,
) -> PortalUserRequest:
    """Create a list and its items, each labelled by the directory check; tell the account manager. A fixed
    number of queries whatever the list's length (checked, inserted and audited set-wise)."""
    agreement_require(partner=partner)
    if has_control_characters(note or ""):
        raise OnboardingError(NOTE_CONTROL_CHARACTERS)
    cleaned = rows_validate(rows, partner=partner)
    with transaction.atomic():
        portal_request = PortalUserRequest.objects.create(
            partner=partner, submitted_by=actor, source=source, note=note, received_from=received_from
        )
        checks = rows_check(partner=partner, emails=[email for _, email, _ in cleaned])
        items = []
        for (name, email, role), check in zip(cleaned, checks, strict=True):
            items.append(RequestItem(
                request=portal_request, partner=partner, name=name, display_email=email, role=role,
                email=normalize_email(email), check_result=check.result if check.result != "invalid" else "",
                suggested_email=check.suggestion,
            ))
        # PostgreSQL returns the new ids: the audit events name each item without reading them back.
        RequestItem.objects.bulk_create(items)
        audit_record_many([
            audit_event(actor=actor, action="request.item_submitted", target=item, partner=partner, request=request,
                        data={"source": source, "check": item.check_result, "request": portal_request.pk,
                              "role": item.role})
            for item in items
        ])
        manager = partner.account_manager
        if manager is not None:
            mail_send_on_commit(
                to=manager.display_email,
                subject=format_lazy(gettext_lazy("New portal-user list from {partner} to review"), partner=partner),
                template="request_submitted", partner=partner,
                context={"partner": partner, "portal_request": portal_request, "count": len(items),
                         "submitted_by": actor,
                         "review_url": f"{absolute_url('onboarding:review_queue')}?list={portal_request.pk}"},
            )
    return portal_request
