"""In Chromium: a password reset from the sign-in page to the mail and back, and a lockout.

The reset mail is sent by the live server (eager Celery, after commit) over SMTP to the suite's real
aiosmtpd server; the test reads the link from it and follows it in the browser.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts import errors
from accounts.views.passwords import SAME_ANSWER
from tests.accounts.factories import PASSWORD, UserFactory
from tests.mail import MailServer
from tests.partners.factories import PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a fresh and rather long passphrase 42"


def enter_address(page, url: str, email: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{url}/accounts/login/password/")


def submit_password(page, password: str):
    """Submit the password step; the answer to the POST (its status tells a lockout)."""
    page.fill("input[name=password]", password)
    with page.expect_response(lambda r: r.request.method == "POST" and "/accounts/login/password/" in r.url) as info:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return info.value


def test_a_person_resets_their_password_by_mail_and_signs_in_with_it(live_server, page, mail_server, settings):
    mail_server.use(settings)
    settings.PORTAL_URL = live_server.url
    person = UserFactory(display_email="Robin.Reset@Browser-Partner.example",
                         partner=PartnerFactory(name="Browser Partner Ltd"))

    enter_address(page, live_server.url, person.display_email)
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{live_server.url}/accounts/password/reset/")
    expect(page.locator("input[name=email]")).to_have_value(person.display_email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-answer")).to_have_text(SAME_ANSWER)

    [message] = mail_server.wait_for(1)
    [link] = MailServer.links(message)
    token = link.rstrip("/").rsplit("/", 1)[1]
    page.goto(link)
    page.wait_for_url(re.compile(r"/set-password/$"))
    assert token not in page.url
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    expect(page.locator(".messages")).to_contain_text("Your password is set. Sign in with it now.")

    page.fill("input[name=email]", person.display_email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/password/")
    assert submit_password(page, NEW_PASSWORD).status == 302
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text("Browser Partner Ltd")


def test_repeated_wrong_passwords_lock_the_sign_in_with_a_message(live_server, page, settings):
    person = UserFactory(display_email="Casey.Locked@Browser-Partner.example")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)

    enter_address(page, live_server.url, person.display_email)
    statuses = [submit_password(page, "not the password at all").status for _ in range(settings.AXES_FAILURE_LIMIT)]

    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    expect(page.locator("#signin-error")).to_have_text(errors.LOCKED_OUT.format(minutes=minutes))
    assert submit_password(page, PASSWORD).status == 429  # even the right password, while locked
    expect(page.locator("#signin-error")).to_have_text(errors.LOCKED_OUT.format(minutes=minutes))
    assert page.url == f"{live_server.url}/accounts/login/password/"
