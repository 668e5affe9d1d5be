"""In Chromium: a running sync's admin page keeps its progress line up to date in place (no timed reload, which
would throw a keyboard or screen-reader user back to the top), and shows the outcome once the run has ended."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from directory_sync.models import SyncRun, SyncStatus
from tests.accounts.factories import AdminFactory
from tests.browser.test_phone_width import sign_in_browser
from tests.directory_sync.factories import SyncRunFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_progress_line_follows_the_run_and_the_page_shows_its_end(live_server, page, client):
    run = SyncRunFactory(pages_done=1, seen=1000)
    sign_in_browser(page.context, client, AdminFactory(), live_server.url)
    page.goto(f"{live_server.url}/admin/directory_sync/syncrun/{run.pk}/change/")
    assert "1 page done, 1000 entries so far" in page.inner_text("#sync-progress")
    page.evaluate("window.stillTheSamePage = true")  # a reload would forget it

    SyncRun.objects.filter(pk=run.pk).update(pages_done=4, seen=4000)
    expect(page.locator("#sync-progress")).to_contain_text("4 pages done, 4000 entries so far", timeout=15_000)
    assert page.evaluate("window.stillTheSamePage === true")  # updated in place, not reloaded

    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED, finished_at=timezone.now())
    page.wait_for_selector("#sync-progress", state="detached")
