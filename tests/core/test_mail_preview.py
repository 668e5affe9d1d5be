"""The admin's mail preview: every template with demo data, both parts, nothing sent, for verified vendor staff,
under the site's Content-Security-Policy unchanged."""

import html
import re

import pytest
from django.core import mail as django_mail
from django.urls import reverse

from core.mail_demo import mail_demos
from core.models import OutboundMail
from tests.accounts.factories import AdminFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor

pytestmark = pytest.mark.django_db

PREVIEW = reverse("admin:core_outboundmail_preview")
TEMPLATES = sorted(mail_demos())


@pytest.fixture
def admin_client(client):
    login_with_second_factor(client, AdminFactory())
    return client


def test_the_outbox_list_links_the_preview(admin_client):
    page = admin_client.get(reverse("admin:core_outboundmail_changelist")).content.decode()
    assert f'href="{PREVIEW}"' in page


def test_the_preview_lists_every_mail_template(admin_client):
    page = admin_client.get(PREVIEW).content.decode()
    for name in TEMPLATES:
        assert f'<option value="{name}"' in page
        assert f'href="?template={name}&amp;language=en"' in page


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_is_shown_in_both_parts_and_nothing_is_sent(admin_client, name):
    response = admin_client.get(PREVIEW, {"template": name})
    assert response.status_code == 200
    page = response.content.decode()
    srcdoc = re.search(r'<iframe sandbox="" srcdoc="([^"]*)"', page)
    assert srcdoc, "the HTML part in a fully sandboxed iframe"
    shown = html.unescape(srcdoc.group(1))
    assert shown.startswith("<!DOCTYPE html>") and "O&#x27;Brien" in shown
    text = re.search(r'<pre class="mail-preview-text"[^>]*>(.*?)</pre>', page, re.DOTALL).group(1)
    assert "O'Brien" in html.unescape(text) or "O'Neil" in html.unescape(text)
    assert f"<h2>{name}</h2>" in page
    assert not OutboundMail.objects.exists() and django_mail.outbox == []


def test_a_template_not_known_shows_the_first(admin_client):
    page = admin_client.get(PREVIEW, {"template": "../../settings"}).content.decode()
    assert f"<h2>{TEMPLATES[0]}</h2>" in page


def test_the_preview_keeps_the_sites_content_security_policy(admin_client):
    preview = admin_client.get(PREVIEW)
    other = admin_client.get(reverse("admin:core_outboundmail_changelist"))
    assert preview["Content-Security-Policy"] == other["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in preview["Content-Security-Policy"]


def test_without_the_second_factor_the_preview_is_not_shown(client):
    client.force_login(AdminFactory())
    response = client.get(PREVIEW)
    assert response.status_code == 302 and "O'Brien" not in response.content.decode()


def test_partner_staff_cannot_see_the_preview(client):
    login_with_second_factor(client, PartnerAdminFactory())
    response = client.get(PREVIEW)
    assert response.status_code in (302, 403)
