"""Mail with an HTML part: every template's text is never HTML-escaped, its HTML always is, in one layout with
the portal's and the partner's name, the action as a button and as a plain link, and a footer saying why; sent
as multipart/alternative by the outbox, by the plain task and with invitations (over a real SMTP server)."""

import datetime
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail as django_mail
from django.utils import translation

from core.mail import mail_prepare, mail_send_on_commit, outbound_mail_resend, outbound_mail_send
from core.mail_demo import mail_demos
from core.mail_render import mail_render
from core.models import OutboundMail
from core.tasks import send_mail_task

pytestmark = pytest.mark.django_db

TEMPLATES = sorted(path.stem for path in (Path(settings.BASE_DIR) / "templates" / "mail").glob("*.txt"))
DEMOS = mail_demos()
PARTNER = "O'Brien & Söhne GmbH"  # the demo partner: an apostrophe, an ampersand, a non-ASCII letter
NO_ACTION = {"password_reset_not_allowed"}  # it says whom to ask: there is nothing to click
NOTIFICATIONS = f"{settings.PORTAL_URL}/accounts/notifications/"
# Mails that go out whatever the person chose: their footer says why, with no link to choose (a reset or an
# invitation mail carries its one link alone).
REQUIRED = {"invite", "welcome", "invite_reminder", "password_reset_link", "password_reset_not_allowed",
            "password_reset_not_applicable", "password_changed", "two_factor_reset", "two_factor_replaced",
            "two_factor_backup_codes_renewed", "passkey_added", "passkey_removed"}


def render(name: str, **overrides):
    demo = DEMOS[name]
    return mail_render(template=name, context={**demo.context, **overrides}, subject=demo.subject,
                       partner=demo.partner)


def test_every_mail_template_has_demo_data():
    assert TEMPLATES and sorted(DEMOS) == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_text_part_is_never_html_escaped(name):
    text = render(name).text
    assert "O'Brien" in text or "O'Neil" in text or "D'Souza" in text
    for escaped in ("&#x27;", "&#39;", "&amp;", "&lt;", "&gt;", "&quot;"):
        assert escaped not in text


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_html_part_escapes_everything_and_names_portal_partner_action_and_why(name):
    demo = DEMOS[name]
    html = render(name).html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en" dir="ltr">' in html
    assert "O'Brien" not in html and "D'Souza" not in html  # every apostrophe of the data escaped
    assert "<strong>Partner Portal</strong>" in html
    if demo.partner is not None:
        assert "O&#x27;Brien &amp; Söhne GmbH</span>" in html  # in the header
    assert "You get this mail because" in html
    assert (f'<a href="{NOTIFICATIONS}"' in html) == (name not in REQUIRED)
    buttons = re.findall(r'<a href="([^"]+)" style="display:inline-block;[^"]*">([^<]+)</a>', html)
    assert len(buttons) == (0 if name in NO_ACTION else 1), "one action per mail"
    if not buttons:
        return
    url, label = buttons[0]
    # The same URL as a plain link, visible as written.
    assert f'<a href="{url}" style="color:#1d4ed8;word-break:break-all;">{url}</a>' in html
    assert label.strip()


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_text_part_has_the_action_as_a_plain_link_and_the_footer(name):
    text = render(name).text
    assert bool(re.search(r"^[^\n]+:\nhttps?://\S+$", text, re.MULTILINE)) == (name not in NO_ACTION)
    assert "You get this mail because" in text
    assert text.rstrip().endswith(NOTIFICATIONS) == (name not in REQUIRED)
    assert (NOTIFICATIONS in text) == (name not in REQUIRED)


def test_markup_in_a_name_stays_text_in_both_parts():
    rendered = render("request_submitted", partner="<a href='https://evil.example'>Evil</a> & Co")
    assert "<a href='https://evil.example'>Evil</a> & Co" in rendered.text
    assert "<a href='" not in rendered.html
    # A URL in a name is a link to itself at most (as mail clients make of the text part): never hidden behind words.
    assert re.findall(r'<a href="https://evil[^"]*"[^>]*>([^<]*)</a>', rendered.html) == ["https://evil.example"]
    assert "&lt;a href=&#x27;https://evil.example&#x27;&gt;Evil&lt;/a&gt; &amp; Co" in rendered.html


def test_lists_paragraphs_and_links_become_html_structure():
    html = render("request_items_decided").html
    assert html.count("<ul ") == 2
    assert "<li style=\"margin:0 0 4px 0;\">Bríd O&#x27;Hara &lt;Brid.OHara@obrien-soehne.example&gt;" in html
    assert "<p style=\"margin:0 0 16px 0;\">Rejected (1)<br>Your account manager rejected these requests.</p>" in html


def test_the_preheader_is_the_first_paragraph_after_the_greeting():
    html = render("invite").html
    preheader = re.search(r'<div style="display:none;[^"]*">([^<]*)</div>', html).group(1)
    assert preheader == "O&#x27;Brien &amp; Söhne GmbH has given you access to the Partner Portal."


def test_the_html_names_the_active_language():
    with translation.override("de"):
        html = render("invite").html
    assert '<html lang="de" dir="ltr">' in html


# --- sent as multipart/alternative --------------------------------------------------------------------------------


def _content(part) -> str:
    return part.get_content().replace("\r\n", "\n")  # as SMTP carried it: CRLF line ends


def _parts(message) -> dict[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    return {part.get_content_type(): _content(part) for part in message.iter_parts()}


def test_the_outbox_records_and_sends_both_parts_and_a_resend_sends_the_same(mail_server, settings):
    mail_server.use(settings)
    demo = DEMOS["request_submitted"]
    mail = mail_send_on_commit(to="Ana@Partner.example", subject=demo.subject, template=demo.template,
                               context=demo.context, partner=demo.partner)
    assert "<!DOCTYPE html>" in mail.html and "O'Brien" in mail.body
    assert outbound_mail_send(mail_id=mail.pk)
    parts = _parts(mail_server.wait_for(1)[0])
    assert parts["text/plain"].strip() == mail.body.strip()
    assert parts["text/html"].strip() == mail.html.strip()

    OutboundMail.objects.filter(pk=mail.pk).update(state="failed")
    outbound_mail_resend(mail=mail, actor=None)
    assert outbound_mail_send(mail_id=mail.pk)
    assert _parts(mail_server.wait_for(2)[1]) == parts


def test_many_mails_prepared_at_once_carry_their_html():
    demo = DEMOS["agreement_reminder"]
    mail = mail_prepare(to="Ana@Partner.example", subject=demo.subject, template=demo.template,
                        context=demo.context, partner=demo.partner)
    assert "See the agreement and its versions</a>" in mail.html


def test_a_mail_recorded_before_html_parts_goes_out_as_text_alone(mail_server, settings):
    mail_server.use(settings)
    mail = OutboundMail.objects.create(to="Ana@Partner.example", subject="Old", body="Hello O'Brien,\n",
                                       template="request_submitted")
    assert outbound_mail_send(mail_id=mail.pk)
    message = mail_server.wait_for(1)[0]
    assert message.get_content_type() == "text/plain"
    assert _content(message) == "Hello O'Brien,\n"


def test_a_mail_carrying_a_secret_is_sent_with_both_parts_and_not_recorded(django_capture_on_commit_callbacks):
    demo = DEMOS["password_reset_link"]
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_send_on_commit(to="Siobhan@Partner.example", subject=demo.subject, template=demo.template,
                                   context=demo.context, durable=False) is None
    assert not OutboundMail.objects.exists()
    [message] = django_mail.outbox
    assert "O'Brien" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "Set a new password</a>" in html


def test_the_plain_task_still_sends_messages_queued_without_html():
    send_mail_task.apply(kwargs={"to": ["a@partner.example"], "subject": "Old", "body": "Hello"}).get()
    [message] = django_mail.outbox
    assert message.body == "Hello" and not message.alternatives


def test_an_invitation_is_sent_with_both_parts(mail_server, settings):
    from onboarding.models import Invite
    from onboarding.services.invites import invite_create, invite_send
    from partners.models import PartnerKind
    from tests.onboarding.invite_links import mailed_code
    from tests.onboarding.test_invites import IVY, directory_load
    from tests.partners.factories import AgreementFactory, PartnerFactory

    mail_server.use(settings)
    partner = PartnerFactory(name="O'Brien & Söhne GmbH", kind=PartnerKind.MSP)
    AgreementFactory(partner=partner)
    directory_load(partner, IVY)
    invite = invite_create(partner=partner, email="Ivy@Partner.example", name="Ivy O'Invitee",
                           actor=partner.account_manager)
    assert invite_send(invite_id=invite.pk)
    parts = _parts(mail_server.wait_for(1)[0])
    code = mailed_code(parts["text/plain"])
    assert "Hello Ivy O'Invitee," in parts["text/plain"] and f"{PARTNER} has given you access" in parts["text/plain"]
    link = f"{settings.PORTAL_URL}/invite/#{code}"
    assert f'<a href="{link}" style="display:inline-block;' in parts["text/html"]
    assert f">{link}</a>" in parts["text/html"]
    assert "O&#x27;Brien &amp; Söhne GmbH</span>" in parts["text/html"]
    assert Invite.objects.get(pk=invite.pk).state == "sent"


def test_a_real_sender_mails_a_name_with_an_apostrophe_as_written(mail_server, settings,
                                                                  django_capture_on_commit_callbacks):
    from accounts.services.passwords import password_changed
    from tests.accounts.factories import UserFactory

    mail_server.use(settings)
    user = UserFactory(full_name="Siobhán O'Brien", partner__name=PARTNER)
    with django_capture_on_commit_callbacks(execute=True):
        password_changed(user=user, via="changed")
    parts = _parts(mail_server.wait_for(1)[0])
    assert "Hello Siobhán O'Brien," in parts["text/plain"] and "&#x27;" not in parts["text/plain"]
    assert "Hello Siobhán O&#x27;Brien," in parts["text/html"]
    assert "O&#x27;Brien &amp; Söhne GmbH</span>" in parts["text/html"]


@pytest.mark.django_db
def test_a_mail_shows_times_in_its_recipients_time_zone():
    from accounts.models import User

    User.objects.create_user("berlin@partner.example", time_zone="Europe/Berlin", role="account_manager")
    moment = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.UTC)
    agreement = SimpleNamespace(version="2027.1", signed_by_name="Pat", signed_by_title="CEO", signed_at=moment,
                                valid_until=None, document_sha256="0" * 64)
    context = {"agreement": agreement, "partner": "Acme", "manager": SimpleNamespace(get_full_name="Alex"),
               "agreement_url": "https://x.example/"}
    text = mail_render(template="agreement_accepted", context=context, to="Berlin@Partner.example").text
    assert "2026-07-01 14:00 CEST" in text
    assert "2026-07-01 12:00 UTC" in mail_render(template="agreement_accepted", context=context,
                                                 to="nobody@partner.example").text
