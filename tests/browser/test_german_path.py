"""In Chromium, the onboarding path in German: a German partner admin (a German browser, whose language is kept at
the first sign-in) submits a list, an account manager who chose German (on an English browser) approves it, and
the invitee — whose partner writes to its people in German — gets a German invitation on a real SMTP server,
accepts it on a German browser and signs in. Every page on the way is German (and passes the axe check, like
every page the browser tests show), and so is every mail, whatever language its sender was reading."""

import time

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

from accounts.models import TOTPDevice, User
from directory_sync.models import DirectoryConnection, SourceKind
from directory_sync.services.runs import directory_csv_import
from onboarding.models import ItemState, RequestItem
from partners.models import TwoFactorPolicy
from tests.accounts.factories import PASSWORD, AccountManagerFactory, PartnerAdminFactory
from tests.browser.test_onboarding_path import NEW_PASSWORD, mail_to
from tests.conftest import totp_code
from tests.mail import MailServer
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def de(message: str, *args) -> str:
    """`message` in German (as the portal has it), and never the English left as it is."""
    with translation.override("de"):
        german = ngettext(message, args[0], args[1]) if args else gettext(message)
    assert german != message, f"no German for {message!r}"
    return german


def subject(message) -> str:
    """A mail's subject as its reader sees it (a long encoded one arrives folded onto a continuation line)."""
    return " ".join(str(message["Subject"]).split())


def sign_in(page, url, email, password, *, device=None, german=True):
    """Sign in; the pages before it are in the browser's language (German unless `german` is false)."""
    label = de if german else str
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name=label("Continue")).click()
    page.fill("input[name=password]", password)
    page.get_by_role("button", name=label("Sign in")).click()
    if device is not None:
        page.wait_for_url(f"{url}/accounts/login/verify/")
        page.fill("input[name=token]", totp_code(device.bin_key, at=time.time()))
        page.get_by_role("button", name=label("Verify")).click()
    page.wait_for_load_state()


def sign_out(page):
    page.get_by_role("button", name=de("Sign out")).click()
    page.wait_for_load_state()


def test_the_onboarding_path_in_german(live_server, browser, mail_server, settings):
    settings.PORTAL_URL = live_server.url
    mail_server.use(settings)
    url = live_server.url
    manager = AccountManagerFactory(display_email="am@vendor.example", full_name="Petra Schulz", language="de")
    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    partner = PartnerFactory(slug="nordlicht", name="Nordlicht IT GmbH", account_manager=manager, language="de")
    policy = partner.account_settings
    policy.two_factor_policy = TwoFactorPolicy.OPTIONAL
    policy.save()
    AgreementFactory(partner=partner)
    directory_csv_import(connection=DirectoryConnection.objects.create(partner=partner, kind=SourceKind.CSV), data=(
        b"name,primary,aliases,forwarding,enabled\n"
        b"Jonas Becker,jonas.becker@nordlicht.example,,,yes\n"
        b"Lena Koch,lena.koch@nordlicht.example,lena@nordlicht.example,,yes\n"
    ))
    admin = PartnerAdminFactory(partner=partner, display_email="jonas.becker@nordlicht.example", language="")

    # The partner admin, on a German browser: the sign-in page is German before anyone is known.
    jonas = browser.new_context(locale="de-DE").new_page()
    jonas.goto(f"{url}/accounts/login/")
    assert jonas.locator("html").get_attribute("lang") == "de"
    sign_in(jonas, url, admin.email, PASSWORD)
    admin.refresh_from_db()
    assert admin.language == "de"  # the browser's, kept at the first sign-in
    jonas.goto(f"{url}/partners/nordlicht/requests/new/")
    assert jonas.get_by_role("heading", level=1).inner_text() != "New list"
    jonas.fill("input[name=rows-0-name]", "Lena Koch")
    jonas.fill("input[name=rows-0-email]", "lena.koch@nordlicht.example")
    jonas.get_by_role("button", name=de("Submit the list")).click()
    jonas.wait_for_selector(f"#items >> text={de('Submitted')}")
    sign_out(jonas)

    # The account manager chose German; their browser is English, their pages and mails are German.
    submitted = mail_to(mail_server, "am@vendor.example")
    with translation.override("de"):
        assert subject(submitted) == gettext("New portal-user list from {partner} to review").format(
            partner="Nordlicht IT GmbH")
    petra = browser.new_context(locale="en-US").new_page()
    sign_in(petra, url, manager.email, PASSWORD, device=TOTPDevice.objects.get(user=manager), german=False)
    petra.goto(f"{url}/review/")
    assert petra.locator("html").get_attribute("lang") == "de"
    petra.get_by_label(de("Choose all on this page")).check()
    petra.get_by_role("button", name=de("Approve the chosen")).click()
    # The outcome of each person, in German, on the page that follows the decision.
    petra.wait_for_selector(f"#outcome >> text={de('Invited')}")
    assert "lena.koch@nordlicht.example" in petra.inner_text("#outcome")
    sign_out(petra)
    assert RequestItem.objects.get().state == ItemState.INVITED

    # The requester hears of the decision in German.
    with translation.override("de"):
        decided_subject = gettext("Portal request for %(email)s: %(outcome)s") % {
            "email": "lena.koch@nordlicht.example", "outcome": gettext("invited")}
    assert subject(mail_to(mail_server, "jonas.becker@nordlicht.example")) == decided_subject

    # The invitee has no account yet: the invitation is in her partner's language.
    invitation = mail_to(mail_server, "lena.koch@nordlicht.example")
    with translation.override("de"):
        assert subject(invitation) == gettext("Your invitation to the Partner Portal ({partner})").format(
            partner="Nordlicht IT GmbH")
    text = MailServer.body(invitation)
    assert "Guten Tag Lena Koch," in text and "Partnerportal" in text
    html = invitation.get_body(("html",)).get_content()
    assert '<html lang="de"' in html

    lena = browser.new_context(locale="de-DE").new_page()
    link = next(link for link in MailServer.links(invitation) if "/invite/#" in link)
    lena.goto(link)
    assert lena.locator("html").get_attribute("lang") == "de"
    lena.fill("input[name=password]", NEW_PASSWORD)
    lena.fill("input[name=password2]", NEW_PASSWORD)
    lena.get_by_role("button", name=de("Accept and set password")).click()
    lena.wait_for_url(f"{url}/")
    assert "Nordlicht IT GmbH" in lena.content()
    assert lena.locator("html").get_attribute("lang") == "de"
    assert User.objects.get(email="lena.koch@nordlicht.example").language == "de"

    # Her acceptance reaches the one who asked for her, in his language.
    accepted = mail_to(mail_server, "jonas.becker@nordlicht.example")
    with translation.override("de"):
        assert subject(accepted) == gettext("%(email)s accepted the Partner Portal invitation (%(partner)s)") % {
            "email": "lena.koch@nordlicht.example", "partner": "Nordlicht IT GmbH"}
    assert RequestItem.objects.get().state == ItemState.ACCEPTED
