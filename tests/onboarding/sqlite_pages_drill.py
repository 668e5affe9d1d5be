"""The partner list's medians and funnels and a partner page's counts on SQLite, the embedded default's database.

SQLite has no percentile_cont: onboarding.selectors.times_to_access takes the spans of one query and the medians
in Python there. Run in a process of its own against a scratch database by test_pages_on_sqlite.py:

    DJANGO_SETTINGS_MODULE=portal.settings.local PORTAL_VAR_DIR=/tmp/drill python -m tests.onboarding.sqlite_pages_drill

It exits 0 only when the figures are right and each page reads as many queries for 3 rows of each kind as for 30.
"""

import datetime
import sys

import django

HOUR = datetime.timedelta(hours=1)


def main() -> int:
    django.setup()
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # no one signs in with one
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from onboarding.models import InviteState, ItemState, RequestItem
    from onboarding.selectors import partner_counts, partner_funnels, times_to_access
    from tests.accounts.factories import AccountManagerFactory, UserFactory
    from tests.onboarding.factories import InviteFactory, PortalUserRequestFactory, RequestItemFactory
    from tests.partners.factories import AgreementFactory, PartnerFactory

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    print("Pages drill on sqlite")
    failures = []

    def expect(condition: bool, message: str) -> None:
        print(("ok   " if condition else "FAIL ") + message)
        if not condition:
            failures.append(message)

    def accepted_after(partner, span):
        item = RequestItemFactory(request=PortalUserRequestFactory(partner=partner), state=ItemState.ACCEPTED,
                                  decided_at=timezone.now())
        requested = timezone.now() - datetime.timedelta(days=30)
        RequestItem.objects.filter(pk=item.pk).update(created_at=requested)
        InviteFactory(partner=partner, item=item, state=InviteState.ACCEPTED, accepted_at=requested + span)

    manager = AccountManagerFactory()
    odd, even, none = (PartnerFactory(account_manager=manager) for _ in range(3))
    for hours in (10, 1, 2):
        accepted_after(odd, hours * HOUR)
    for hours in (1, 2, 4, 10):
        accepted_after(even, hours * HOUR)
    with CaptureQueriesContext(connection) as queries:
        medians = times_to_access(partner_ids=[odd.pk, even.pk, none.pk])
    expect(medians == {odd.pk: 2 * HOUR, even.pk: 3 * HOUR}, f"medians of 3 and of 4 spans: {medians}")
    expect(len(queries) == 1, f"the medians of three partners in one query ({len(queries)})")
    funnel = {stage["key"]: stage["count"] for stage in partner_funnels(partner_ids=[even.pk])[even.pk]}
    expect(funnel["submitted"] == 4 and funnel["accepted"] == 4, f"a funnel: {funnel}")

    acme = PartnerFactory(slug="acme", account_manager=manager)
    AgreementFactory(partner=acme)

    def grow(n: int) -> None:
        for i in range(acme.invites.filter(state=InviteState.FAILED).count(), n):
            UserFactory(partner=acme)
            portal_request = PortalUserRequestFactory(partner=acme)
            RequestItemFactory(request=portal_request)
            accepted_after(acme, (i + 1) * HOUR)
            InviteFactory(partner=acme, state=InviteState.FAILED)

    client = Client()
    client.force_login(manager)
    sizes = {}
    for n in (3, 30):
        grow(n)
        for url in ("/partners/", "/partners/acme/", "/"):
            with CaptureQueriesContext(connection) as queries:
                status = client.get(url, HTTP_HOST="localhost").status_code
            expect(status == 200, f"{url} answers with {n} rows of each kind ({status})")
            sizes.setdefault(url, []).append(len(queries))
    for url, counts in sizes.items():
        expect(counts[0] == counts[1], f"{url}: as many queries for 3 rows as for 30 {counts}")
    counts = partner_counts(partner=acme)
    expect((counts.lists, counts.requested, counts.pending) == (60, 60, 30),
           f"the page's counts, in one query with a union: {counts}")
    expect((counts.invites, counts.failed_invites) == (30, 30), f"invites counted by state: {counts.invites_by_state}")
    print("OK on sqlite" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
