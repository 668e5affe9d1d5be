"""In Chromium: the admin's mail preview draws the HTML part in its sandboxed iframe under the site's own
Content-Security-Policy (a srcdoc document inherits it): styled, with its button, and nothing refused."""

import pytest
from django.urls import reverse

from tests.accounts.factories import AdminFactory
from tests.browser.test_content_security_policy import PolicyWatch, sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_html_part_is_drawn_with_its_styles_and_nothing_is_refused(live_server, page, client):
    watch = PolicyWatch(page)
    sign_in_browser(page, client, AdminFactory(), live_server.url)
    watch.visit(f"{live_server.url}{reverse('admin:core_outboundmail_preview')}?template=invite")
    mail = page.frame_locator("iframe.mail-preview")
    button = mail.get_by_role("link", name="Accept the invitation")
    assert button.evaluate("element => getComputedStyle(element).backgroundColor") in (
        "rgba(0, 0, 0, 0)", "rgb(29, 78, 216)")  # the colour is on its cell
    assert button.evaluate("element => getComputedStyle(element).color") == "rgb(255, 255, 255)"
    assert mail.locator("html").get_attribute("lang") == "en"
    assert mail.get_by_text("O'Brien & Söhne GmbH", exact=True).is_visible()
    assert watch.problems() == []
