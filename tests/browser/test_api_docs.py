"""In Chromium: the API's reference, a portal page drawn from the OpenAPI document, loads under the portal's
Content-Security-Policy with nothing from elsewhere, lists the API's operations, and passes the axe check."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_show_the_operations_from_the_portal_s_own_files(live_server, page):
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:") else None)
    page.goto(f"{live_server.url}/api/v1/docs/")
    assert page.locator("#me_retrieve-title").inner_text() == "GET /api/v1/me/"
    assert page.get_by_role("link", name="The OpenAPI document (JSON)").is_visible()
    assert blocked == [] and outside == []
