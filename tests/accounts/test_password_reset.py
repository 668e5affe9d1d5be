"""Self-service password reset and password change for cloud-password people (R6), at the client level.

The reset mails go over a real SMTP conversation to the suite's aiosmtpd server: the request view commits,
the on-commit callback runs the (eager) Celery tasks (the lookup, then the mail), and Django's SMTP backend
delivers. The link is then followed with Django's test client the way a browser and the page's script do:
the path is requested (a fragment never is), then the code after "#" is posted. No-enumeration checks
compare everything a visitor sees. (The real gunicorn access log: tests/security/test_reset_tokens.py.)
"""

import datetime
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts import errors
from accounts.views.passwords import SAME_ANSWER
from core.models import AuditEvent, OutboundMail
from directory_sync.models import AddressKind, SourceKind
from partners.models import AuthMethod
from tests.accounts.factories import PASSWORD, UserFactory
from tests.directory_sync.factories import DirectoryAddressFactory, DirectoryConnectionFactory, DirectoryUserFactory
from tests.mail import MailServer
from tests.partners.factories import PartnerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

RESET_URL = "/accounts/password/reset/"
LINK_PATH = "/accounts/password/reset/link/"
FORM_PATH = "/accounts/password/reset/set-password/"
NEW_PASSWORD = "a fresh and rather long passphrase 42"
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


@pytest.fixture
def smtp(mail_server, settings) -> MailServer:
    """The real SMTP server, with Django's mail pointed at it."""
    mail_server.use(settings)
    return mail_server


@pytest.fixture
def person():
    """A cloud-password person of an account that allows self-service reset (the defaults)."""
    return UserFactory(display_email="Pat.Reset@Cloud-Partner.example", full_name="Pat Reset")


def sign_in(client: Client, email: str, password: str):
    client.post("/accounts/login/", {"email": email})
    return client.post("/accounts/login/password/", {"password": password})


def is_signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def request_reset(client: Client, email: str, capture):
    """Ask for a reset as a visitor does (the page first, then the form), running the on-commit mail."""
    client.get(RESET_URL)
    with capture(execute=True):
        return client.post(RESET_URL, {"email": email})


def mailed_link(smtp: MailServer) -> str:
    """The only link in the only mail received (with its fragment)."""
    [message] = smtp.wait_for(1)
    [link] = MailServer.links(message)
    return link


def open_link(client: Client, link: str):
    """What a browser and the page's script do with the link: request its path, then post its fragment."""
    parts = urlsplit(link)
    page = client.get(parts.path)
    assert page.status_code == 200
    return client.post(parts.path, {"code": parts.fragment})


def set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    """Open the mailed link, then post the new password to the page it leads to."""
    form_page = client.get(open_link(client, link)["Location"])
    assert form_page.status_code == 200
    return client.post(form_page.wsgi_request.path, {"new_password1": password, "new_password2": password})


def without_csrf(html: bytes) -> str:
    return CSRF_VALUE.sub(r"\1\2", html.decode())


def test_the_answer_is_the_same_for_a_known_address_an_unknown_one_and_an_alias(smtp,
                                                                               django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    DirectoryConnectionFactory(partner=partner, kind=SourceKind.CSV, uri="")
    someone = DirectoryUserFactory(partner=partner)
    primary = DirectoryAddressFactory(directory_user=someone, display_address="Known@Dir-Partner.example")
    DirectoryAddressFactory(directory_user=someone, display_address="Known.Alias@Dir-Partner.example",
                            kind=AddressKind.ALIAS)
    UserFactory(partner=partner, display_email=primary.display_address, directory_user=someone)

    answers = [
        request_reset(Client(), address, django_capture_on_commit_callbacks)
        for address in ("Known@Dir-Partner.example", "nobody@Dir-Partner.example", "Known.Alias@Dir-Partner.example")
    ]

    known, unknown, alias = answers
    assert known.status_code == unknown.status_code == alias.status_code == 200
    assert known["Content-Type"] == unknown["Content-Type"] == alias["Content-Type"]
    assert without_csrf(known.content) == without_csrf(unknown.content) == without_csrf(alias.content)
    assert SAME_ANSWER in known.content.decode()
    assert len(smtp.wait_for(1)) == 1  # only the known address got a mail


def test_a_known_address_gets_one_mail_with_a_single_reset_link(smtp, person, client,
                                                               django_capture_on_commit_callbacks):
    request_reset(client, "pat.reset@CLOUD-PARTNER.example", django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    assert len(smtp.messages) == 1
    assert smtp.envelopes[0].rcpt_tos == ["Pat.Reset@Cloud-Partner.example"]
    assert message["Subject"] == "Your Partner Portal password"
    [link] = MailServer.links(message)
    assert link.startswith(f"{django_settings.PORTAL_URL}{LINK_PATH}#")
    assert urlsplit(link).fragment in MailServer.body(message).replace(link, "")  # the code, to paste
    assert f"{django_settings.PASSWORD_RESET_TIMEOUT // 60} minutes" in MailServer.body(message)
    assert PASSWORD not in MailServer.body(message)


def test_an_unknown_address_gets_no_mail_at_all(smtp, person, client, django_capture_on_commit_callbacks):
    client.get(RESET_URL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(RESET_URL, {"email": "nobody@Cloud-Partner.example"})

    assert len(callbacks) == 1  # the lookup, queued for the worker as for every address
    assert smtp.messages == []
    assert not AuditEvent.objects.filter(action="password.reset_requested").exists()


def test_the_link_keeps_its_code_after_the_hash_and_the_form_is_on_a_url_without_it(smtp, person, client,
                                                                                     django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    link = mailed_link(smtp)
    parts = urlsplit(link)
    uid, token = parts.fragment.split(".")

    page = client.get(parts.path)
    claimed = client.post(parts.path, {"code": parts.fragment})

    assert parts.path == LINK_PATH and token not in parts.path and uid not in parts.path
    assert b'name="new_password1"' not in page.content
    assert token.encode() not in page.content
    assert claimed.status_code == 302
    assert claimed["Location"] == FORM_PATH
    form_page = client.get(claimed["Location"])
    assert form_page.status_code == 200
    assert b'name="new_password1"' in form_page.content
    assert token.encode() not in form_page.content


def test_the_link_page_loads_its_script_from_the_static_files_and_has_no_inline_script(client):
    page = client.get(LINK_PATH).content.decode()

    assert re.search(r'<script src="/static/js/password-reset\.js" defer></script>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script element is a file
    assert not re.search(r"\son[a-z]+\s*=", page)  # no event handler attributes


def test_a_pasted_code_with_spaces_and_line_breaks_works(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    code = urlsplit(mailed_link(smtp)).fragment

    claimed = client.post(LINK_PATH, {"code": f"  {code[:10]}\n{code[10:]} "})

    assert claimed.status_code == 302
    assert claimed["Location"] == FORM_PATH


def test_a_wrong_code_is_refused_without_echoing_it(person, client):
    answer = client.post(LINK_PATH, {"code": "MQ.not-a-token-at-all"})

    assert answer.status_code == 200
    assert str(errors.RESET_CODE_INVALID) in answer.content.decode()
    assert b"not-a-token-at-all" not in answer.content
    assert client.get(FORM_PATH).content.decode().count("This link does not work any more") == 1


def test_a_link_of_the_earlier_form_is_never_accepted(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    uid, token = urlsplit(mailed_link(smtp)).fragment.split(".")

    opened = client.get(f"/accounts/password/reset/{uid}/{token}/", follow=True)

    assert "This link does not work any more" in opened.content.decode()
    assert b'name="new_password1"' not in opened.content


def test_a_new_password_must_pass_the_password_validators(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    response = set_password(client, mailed_link(smtp), "Short1!")

    assert response.status_code == 200
    assert "This password is too short. It must contain at least 12 characters." in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_after_the_reset_the_old_password_fails_and_the_new_one_signs_in(smtp, person, client,
                                                                         django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    done = set_password(client, mailed_link(smtp))

    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    old = sign_in(Client(), person.email, PASSWORD)
    assert old.status_code == 200
    assert str(errors.SIGN_IN_FAILED) in old.content.decode()
    fresh = Client()
    assert sign_in(fresh, person.email, NEW_PASSWORD).status_code == 302
    assert is_signed_in(fresh)


def test_the_link_works_only_once(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    link = mailed_link(smtp)
    set_password(client, link)

    again = open_link(Client(), link)

    assert str(errors.RESET_CODE_INVALID) in again.content.decode()
    assert b'name="new_password1"' not in again.content
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


def test_the_link_expires_after_the_reset_timeout(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    link = mailed_link(smtp)
    later = timezone.now() + datetime.timedelta(seconds=django_settings.PASSWORD_RESET_TIMEOUT + 5)

    with time_machine.travel(later, tick=False):
        opened = open_link(Client(), link)

    assert str(errors.RESET_CODE_INVALID) in opened.content.decode()
    assert b'name="new_password1"' not in opened.content


def test_the_link_still_works_shortly_before_the_timeout(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)
    link = mailed_link(smtp)
    later = timezone.now() + datetime.timedelta(seconds=django_settings.PASSWORD_RESET_TIMEOUT - 60)

    with time_machine.travel(later, tick=False):
        visitor = Client()
        opened = visitor.get(open_link(visitor, link)["Location"])

    assert b'name="new_password1"' in opened.content


def test_the_reset_signs_out_the_persons_other_sessions(smtp, person, client, django_capture_on_commit_callbacks):
    elsewhere = Client()
    sign_in(elsewhere, person.email, PASSWORD)
    assert is_signed_in(elsewhere)
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    set_password(client, mailed_link(smtp))

    signed_out = elsewhere.get("/")
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith("/accounts/login/")


def test_without_self_service_reset_the_mail_names_the_reset_contact_and_has_no_link(
        smtp, client, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    partner.account_settings.self_service_reset = False
    partner.account_settings.reset_contact = "the Contoso IT desk (it@contoso.example)"
    partner.account_settings.save()
    locked = UserFactory(partner=partner)

    request_reset(client, locked.email, django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    body = MailServer.body(message)
    assert "does not allow resetting portal passwords by mail" in body
    assert "Please ask the Contoso IT desk (it@contoso.example) to reset it for you." in body
    assert MailServer.links(message) == []


def test_without_self_service_reset_and_contact_the_mail_names_the_account_manager(
        smtp, client, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    partner.account_settings.self_service_reset = False
    partner.account_settings.save()
    locked = UserFactory(partner=partner)

    request_reset(client, locked.email, django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    assert f"Please ask {partner.account_manager.display_email} to reset it for you." in MailServer.body(message)
    assert MailServer.links(message) == []


def test_a_domain_password_person_gets_the_not_applicable_mail(smtp, client, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    partner.account_settings.auth_method = AuthMethod.DOMAIN_PASSWORD
    partner.account_settings.save()
    domain_person = UserFactory(partner=partner)

    request_reset(client, domain_person.email, django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    body = MailServer.body(message)
    assert "Your account does not have a portal password: you sign in with your domain (Windows) password." in body
    assert [urlsplit(link).path for link in MailServer.links(message)] == ["/accounts/login/"]


def test_a_person_of_an_account_enforcing_sso_gets_the_not_applicable_mail(smtp, client,
                                                                          django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    partner.account_settings.auth_method = AuthMethod.SSO
    partner.account_settings.sso_issuer = "https://idp.sso-partner.example"
    partner.account_settings.sso_client_id = "partner-portal"
    partner.account_settings.sso_enforced = True
    partner.account_settings.save()
    sso_person = UserFactory(partner=partner)

    request_reset(client, sso_person.email, django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    assert "you sign in with single sign-on." in MailServer.body(message)
    assert not any("/password/reset/" in link for link in MailServer.links(message))


def test_a_reset_request_is_audited_with_the_answer_given(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    event = AuditEvent.objects.get(action="password.reset_requested")
    assert event.target_id == str(person.pk)
    assert event.partner_id == person.partner_id
    assert event.data == {"answer": "password_reset_link"}
    assert event.ip_address == "127.0.0.1"


def test_a_completed_reset_is_audited(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    set_password(client, mailed_link(smtp))

    event = AuditEvent.objects.get(action="password.reset")
    assert event.actor_id == person.pk
    assert event.target_id == str(person.pk)


def test_a_password_change_ends_the_other_sessions_but_keeps_this_one(person, client):
    elsewhere = Client()
    sign_in(elsewhere, person.email, PASSWORD)
    sign_in(client, person.email, PASSWORD)

    changed = client.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })

    assert changed.status_code == 302
    assert changed["Location"] == "/accounts/security/"
    assert is_signed_in(client)
    assert not is_signed_in(elsewhere)
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="password.changed", target_id=str(person.pk)).exists()


def test_a_password_change_needs_the_current_password(person, client):
    sign_in(client, person.email, PASSWORD)

    refused = client.post("/accounts/password/change/", {
        "old_password": "not my password at all", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })

    assert refused.status_code == 200
    assert "Your old password was entered incorrectly." in refused.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert not OutboundMail.objects.filter(template="password_changed").exists()


def test_a_password_change_is_mailed_to_the_person(person, client):
    sign_in(client, person.email, PASSWORD)

    client.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })

    [mail] = OutboundMail.objects.filter(template="password_changed")
    assert (mail.to, mail.partner_id) == (person.display_email, person.partner_id)
    assert "was changed." in mail.body
    assert f"{django_settings.PORTAL_URL}{RESET_URL}" in mail.body


def test_a_completed_reset_is_mailed_to_the_person(smtp, person, client, django_capture_on_commit_callbacks):
    request_reset(client, person.email, django_capture_on_commit_callbacks)

    set_password(client, mailed_link(smtp))

    [mail] = OutboundMail.objects.filter(template="password_changed")
    assert (mail.to, mail.partner_id) == (person.display_email, person.partner_id)
    assert "was set with a reset link" in mail.body


def test_the_plain_text_mail_keeps_a_name_as_it_is_written(smtp, client, django_capture_on_commit_callbacks):
    person = UserFactory(display_email="Pat.OReilly@Cloud-Partner.example", full_name="Pat O'Reilly & Sons")

    request_reset(client, person.email, django_capture_on_commit_callbacks)

    [message] = smtp.wait_for(1)
    assert MailServer.body(message).startswith("Hello Pat O'Reilly & Sons,")
