"""The invited person's pages keep the token out of every URL: the link carries it in the fragment, the link's
page posts it, the acceptance page is token-free; and the mailbox hears of the acceptance.

(The same, through a real gunicorn and its access log: tests/security/test_invite_tokens.py.)
"""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from core.models import OutboundMail
from onboarding.errors import INVITE_ACCEPTED_SUBJECT, INVITE_CODE_MISSING, INVITE_LINK_INVALID, INVITE_LINK_OUTDATED
from onboarding.models import Invite, InviteKind, InviteState
from onboarding.selectors import token_hash
from onboarding.services.acceptance import invite_accept
from onboarding.services.invites import invite_create, invite_resend
from onboarding.views.invites import SESSION_OPENED
from partners.models import PartnerKind
from tests.onboarding.invite_links import ACCEPT, OPEN, invite_open, mailed_code
from tests.partners.factories import AgreementFactory, PartnerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-phrase-7"


@pytest.fixture
def partner():
    partner = PartnerFactory(kind=PartnerKind.RESELLER, name="Resell Co")
    AgreementFactory(partner=partner)
    return partner


@pytest.fixture
def sent(partner, django_capture_on_commit_callbacks):
    """Rosa's welcome invitation, mailed: (invite, its mail's body)."""
    with django_capture_on_commit_callbacks(execute=True):
        invite = invite_create(partner=partner, email="Rosa@Resell.example", name="Rosa Rot", kind=InviteKind.WELCOME)
    [message] = [m for m in mail.outbox if m.to == ["Rosa@Resell.example"]]
    invite.refresh_from_db()
    return invite, message.body


def test_the_mail_carries_the_token_only_in_the_links_fragment_and_as_a_code(sent, settings):
    _, body = sent
    code = mailed_code(body)
    portal_links = re.findall(rf"{re.escape(settings.PORTAL_URL)}\S*", body)
    assert portal_links == [f"{settings.PORTAL_URL}{OPEN}#{code}", f"{settings.PORTAL_URL}{OPEN}"]
    assert body.count(code) == 2  # in the link's fragment, and on a line of its own to paste


def test_the_links_page_is_token_free_and_posts_the_code_with_a_script_of_the_portals_own(client):
    page = client.get(OPEN).content.decode()
    assert re.search(r'<script src="/static/js/invite(\.[0-9a-f]+)?\.js"></script>', page)
    assert "<script>" not in page and " onclick=" not in page and " onload=" not in page
    form = re.search(r'<form method="post" action="([^"]+)" id="invite-code-form"', page)
    assert form.group(1) == OPEN and 'name="csrfmiddlewaretoken"' in page and 'name="code"' in page


def test_posting_the_code_remembers_the_invitation_by_its_hash_and_redirects_to_a_token_free_page(client, sent):
    invite, body = sent
    code = mailed_code(body)
    response = client.post(OPEN, {"code": code})
    assert (response.status_code, response["Location"]) == (302, ACCEPT)
    assert client.session[SESSION_OPENED] == token_hash(code) == invite.token_hash
    assert code not in str(dict(client.session.items()))
    page = client.get(ACCEPT)
    assert page.status_code == 200 and "Accept and set password" in page.content.decode()
    assert Invite.objects.get(pk=invite.pk).state == InviteState.SENT  # opening consumed nothing


def test_an_empty_code_shows_the_form_again_and_an_unknown_one_the_unavailable_page(client, sent):
    assert str(INVITE_CODE_MISSING) in client.post(OPEN, {"code": " "}).content.decode()
    unknown = client.post(OPEN, {"code": "not-a-code"})
    assert unknown.status_code == 404
    assert str(INVITE_LINK_INVALID) in unknown.content.decode() and SESSION_OPENED not in client.session


def test_the_acceptance_page_without_an_opened_invitation_sends_to_the_links_page(client):
    response = client.get(ACCEPT)
    assert (response.status_code, response["Location"]) == (302, OPEN)


def test_accepting_forgets_the_opened_invitation(client, sent):
    _, body = sent
    invite_open(client, mailed_code(body))
    response = client.post(ACCEPT, {"password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    assert SESSION_OPENED not in client.session


def test_a_link_of_the_earlier_form_is_never_looked_up_and_says_to_ask_again(client, sent):
    invite, body = sent
    code = mailed_code(body)
    response = client.get(f"/invite/{code}/")  # as mails before this release carried it
    assert response.status_code == 410
    assert str(INVITE_LINK_OUTDATED) in response.content.decode()
    assert SESSION_OPENED not in client.session
    assert client.post(f"/invite/{code}/", {"password": PASSWORD, "password2": PASSWORD}).status_code == 410
    assert Invite.objects.get(pk=invite.pk).state == InviteState.SENT


def test_a_resend_kills_an_invitation_already_opened_in_a_browser(client, sent, partner):
    invite, body = sent
    invite_open(client, mailed_code(body))
    invite_resend(invite=invite, actor=partner.account_manager)
    response = client.get(ACCEPT)
    assert response.status_code == 404 and str(INVITE_LINK_INVALID) in response.content.decode()


def test_the_invitee_is_mailed_when_the_invitation_is_accepted(sent, partner, django_capture_on_commit_callbacks):
    invite, _ = sent
    with django_capture_on_commit_callbacks(execute=True):
        invite_accept(invite=invite, password=PASSWORD)
    notice = OutboundMail.objects.get(template="invite_accepted")
    assert (notice.to, notice.subject, notice.partner_id) == (
        "Rosa@Resell.example", INVITE_ACCEPTED_SUBJECT.format(partner=partner), partner.pk)
    assert "is active" in notice.body
    assert f"If this was not you, tell your account manager, {partner.account_manager.get_full_name()}" in notice.body
    assert partner.account_manager.display_email in notice.body
    [sent_notice] = [m for m in mail.outbox if m.subject == notice.subject]
    assert sent_notice.to == ["Rosa@Resell.example"]


def test_a_refused_acceptance_mails_nothing(sent):
    invite, _ = sent
    with pytest.raises(ValidationError):  # a weak password
        invite_accept(invite=invite, password="short")
    assert not OutboundMail.objects.filter(template="invite_accepted").exists()
