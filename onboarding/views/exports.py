"""Who has access, as a CSV file: a partner's portal users (its admins, its account manager, admins), or those of
every partner a member of the vendor's staff may see.

Streamed a chunk of rows at a time, so a file of fifty thousand people costs the memory of one chunk and the same
few queries as one of three. Every cell a person or a directory typed goes through `csv_safe_cell`: a name such as
`=HYPERLINK(...)` must reach the spreadsheet as text, not as a formula.
"""

import csv
import datetime
from collections.abc import Iterable, Iterator

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import VENDOR_ROLES
from core.csvfiles import csv_safe_cell
from onboarding import selectors
from onboarding.permissions import may_export_people
from onboarding.services.exports import people_export_record

BOM = "\ufeff"  # Excel reads a CSV file as UTF-8 only with it


class _Line:
    """What csv.writer writes to: hands the line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def _utc(value) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _lines(rows: Iterable[selectors.PersonRow], *, with_partner: bool) -> Iterator[str]:
    # Labels are translated here, in the request's language, before the response streams (perhaps on another
    # thread, after the view has returned).
    header = [gettext("name"), gettext("email"), gettext("role"), gettext("status"), gettext("last sign-in (UTC)"),
              gettext("two-factor enrolled"), gettext("invited (UTC)"), gettext("accepted (UTC)")]
    if with_partner:
        header.insert(0, gettext("partner"))
    roles = {role: str(label) for role, label in selectors.ROLE_LABELS.items()}
    statuses = {status: str(status.label) for status in selectors.PersonStatus}
    yes, no = gettext("yes"), gettext("no")
    writer = csv.writer(_Line())

    def generate() -> Iterator[str]:
        yield BOM + writer.writerow([csv_safe_cell(cell) for cell in header])
        for row in rows:
            cells = [row.name, row.email, roles.get(row.role, row.role), statuses[row.status], _utc(row.last_login),
                     yes if row.two_factor else no, _utc(row.invited_at), _utc(row.accepted_at)]
            if with_partner:
                cells.insert(0, row.partner_name)
            yield writer.writerow([csv_safe_cell(cell) for cell in cells])

    return generate()


def _csv_response(lines: Iterator[str], *, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    filename = f"{name}-portal-users-{timezone.now().date().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def partner_people_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """The partner's portal users as CSV: its admins (not its staff), its account manager and admins."""
    partner = selectors.partner_for(user=request.user, slug=slug)  # 404 outside what the person may see
    if not may_export_people(request.user, partner):
        raise Http404
    people_export_record(actor=request.user, partner=partner, request=request)
    rows = selectors.people_with_access(partners=selectors.partners_visible_to(user=request.user).filter(pk=partner.pk))
    return _csv_response(_lines(rows, with_partner=False), name=partner.slug)  # a slug is [-a-z0-9_]: safe to quote


@login_required
def people_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every portal user of the partners a member of the vendor's staff may see (theirs; admins: all), as CSV."""
    if request.user.role not in VENDOR_ROLES:
        raise Http404
    people_export_record(actor=request.user, partner=None, request=request)
    rows = selectors.people_with_access(partners=selectors.partners_visible_to(user=request.user))
    return _csv_response(_lines(rows, with_partner=True), name="partners")
