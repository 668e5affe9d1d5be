"""A person's language: the browser's (Accept-Language, or the footer's switch) before sign-in; kept on their
account at their first sign-in and changed on their security page or with the switch; mail goes out in the
recipient's (their own, else their partner's, else the portal's)."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.services.passwords import CHANGED_SUBJECT, password_changed
from core.languages import recipient_language, supported_language
from core.mail import mail_send_on_commit
from core.models import AuditEvent, OutboundMail
from tests.accounts.factories import PASSWORD, UserFactory
from tests.partners.factories import PartnerFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SECURITY = reverse("accounts:security")
SWITCH = reverse("accounts:language")
GERMAN = "de-DE,de;q=0.9,en;q=0.5"


def sign_in(client, email, *, accept_language="en"):
    client.post(LOGIN, {"email": email}, headers={"accept-language": accept_language})
    return client.post(reverse("accounts:login_password"), {"password": PASSWORD},
                       headers={"accept-language": accept_language})


def test_a_german_browser_gets_the_signed_out_pages_in_german():
    response = Client().get(LOGIN, headers={"accept-language": GERMAN})
    page = response.content.decode()
    assert '<html lang="de">' in page
    assert "Anmelden" in page and "Sign in" not in page
    assert response["Content-Language"] == "de"
    assert "Accept-Language" in response["Vary"]


@pytest.mark.parametrize("accept", ["fr-FR,fr;q=0.9", "", "en-GB,en;q=0.8"])
def test_a_browser_asking_for_a_language_not_offered_gets_english(accept):
    page = Client().get(LOGIN, headers={"accept-language": accept}).content.decode()
    assert '<html lang="en">' in page
    assert "Sign in" in page


def test_every_page_offers_the_switch_with_the_current_language_chosen():
    page = Client().get(LOGIN, headers={"accept-language": GERMAN}).content.decode()
    assert f'<form method="post" action="{SWITCH}" class="language-switch">' in page
    assert '<label for="footer-language">Sprache</label>' in page
    assert '<option value="de" lang="de" selected>Deutsch</option>' in page
    assert '<option value="en" lang="en">English</option>' in page


def test_a_visitor_s_switch_is_kept_in_a_cookie_and_back_on_the_same_page():
    client = Client()
    response = client.post(SWITCH, {"language": "de", "next": reverse("accounts:password_reset")})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset")
    cookie = response.cookies["portal_language"]
    assert cookie.value == "de" and cookie["httponly"] and cookie["samesite"] == "Lax"
    page = client.get(reverse("accounts:password_reset"), headers={"accept-language": "en"}).content.decode()
    assert '<html lang="de">' in page
    assert "Das Portal wird jetzt auf Deutsch angezeigt." in page


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", ""])
def test_the_switch_goes_back_only_to_a_page_of_the_portal(next_url):
    response = Client().post(SWITCH, {"language": "de", "next": next_url})
    assert response["Location"] == LOGIN


def test_a_language_not_offered_is_refused_and_changes_nothing(client):
    user = UserFactory(language="en")
    client.force_login(user)
    response = client.post(SWITCH, {"language": "fr", "next": SECURITY}, follow=True)
    assert "Choose one of the languages offered." in response.content.decode()
    assert "portal_language" not in response.cookies
    user.refresh_from_db()
    assert user.language == "en"
    assert not AuditEvent.objects.filter(action="user.language_changed").exists()


def test_switching_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.post(SWITCH, {"language": "de"}).status_code == 403


def test_the_browser_s_language_is_kept_at_the_first_sign_in_and_then_the_person_s_own_is_used():
    user = UserFactory(language="")
    client = Client()
    sign_in(client, user.email, accept_language=GERMAN)
    user.refresh_from_db()
    assert user.language == "de"
    page = client.get(SECURITY, headers={"accept-language": "en"}).content.decode()
    assert '<html lang="de">' in page and "Sicherheit" in page


def test_a_language_once_chosen_is_not_replaced_by_the_browser_s():
    user = UserFactory(language="en")
    client = Client()
    sign_in(client, user.email, accept_language=GERMAN)
    user.refresh_from_db()
    assert user.language == "en"
    assert '<html lang="en">' in client.get(SECURITY, headers={"accept-language": GERMAN}).content.decode()


def test_choosing_a_language_on_the_security_page_saves_it_audited_and_says_so_in_it(client):
    user = UserFactory(language="en")
    client.force_login(user)
    page = client.get(SECURITY).content.decode()
    assert '<label for="id_language">Language</label>' in page
    response = client.post(SWITCH, {"language": "de", "next": SECURITY}, follow=True)
    assert response.redirect_chain == [(SECURITY, 302)]
    assert "Das Portal wird jetzt auf Deutsch angezeigt." in response.content.decode()
    user.refresh_from_db()
    assert user.language == "de"
    event = AuditEvent.objects.get(action="user.language_changed")
    assert (event.actor, event.data) == (user, {"from": "en", "to": "de"})


def test_a_language_and_its_regional_variants_are_understood():
    assert supported_language("de-AT") == "de"
    assert supported_language("DE_ch") == "de"
    assert supported_language("fr") == ""
    assert supported_language(None) == ""


def test_mail_is_in_the_person_s_language_else_the_partner_s_else_the_portal_s():
    german_partner = PartnerFactory(language="de")
    assert recipient_language(UserFactory(language="en", partner=german_partner).email,
                              partner=german_partner) == "en"
    assert recipient_language(UserFactory(language="", partner=german_partner).email,
                              partner=german_partner) == "de"
    assert recipient_language("invitee@nowhere.example", partner=german_partner) == "de"
    assert recipient_language("invitee@nowhere.example") == "en"


def test_a_mail_is_written_in_the_recipient_s_language_whatever_the_sender_reads(django_capture_on_commit_callbacks):
    reader = UserFactory(language="de", full_name="Jana Vogel")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        password_changed(user=reader, via="changed")
        assert translation.get_language() == "en"  # the sender's language is back once the mail is written
    recorded = OutboundMail.objects.get(to=reader.display_email)
    with translation.override("de"):
        subject = gettext("Your Partner Portal password was changed")
    assert recorded.subject == subject != "Your Partner Portal password was changed"
    assert "Guten Tag Jana Vogel," in recorded.body
    assert "Partnerportal" in recorded.body and "Partner Portal" not in recorded.body
    assert '<html lang="de"' in recorded.html


def test_an_english_reader_gets_english_mail_from_a_german_sender(django_capture_on_commit_callbacks):
    reader = UserFactory(language="en")
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        mail_send_on_commit(to=reader.display_email, subject=CHANGED_SUBJECT, template="password_changed",
                            context={"user": reader, "via": "changed", "reset_url": "https://portal.example/r"})
    recorded = OutboundMail.objects.get(to=reader.display_email)
    assert recorded.subject == "Your Partner Portal password was changed"
    assert "the password of your Partner Portal account" in recorded.body
