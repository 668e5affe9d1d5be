"""An account manager's pages each have their own title, and each title says what the page's heading says."""

import re

import pytest

from tests.accounts.factories import AccountManagerFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

PAGES = ("/", "/partners/", "/review/")


def title_and_heading(page: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip()
    heading = re.sub(r"<[^>]+>|\(\d+\)", "", re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)).strip()
    return title, heading


def test_an_account_manager_s_pages_have_distinct_titles_that_name_their_heading(client):
    manager = AccountManagerFactory()
    PartnerFactory(account_manager=manager)
    client.force_login(manager)
    seen = {}
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        title, heading = title_and_heading(response.content.decode())
        assert title.startswith(heading), (path, title, heading)
        seen[path] = title
    assert len(set(seen.values())) == len(PAGES), seen
    assert len({title.split(" · ")[0] for title in seen.values()}) == len(PAGES)
