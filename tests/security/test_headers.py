"""Security headers: a strict Content-Security-Policy and a Permissions-Policy on every page, and
`Cache-Control: no-store` on every answer to a signed-in person."""

import pytest
from django.conf import settings
from django.urls import get_resolver, reverse

from tests.accounts.factories import AdminFactory, PartnerAdminFactory
from tests.conftest import login_with_second_factor

pytestmark = pytest.mark.django_db

DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "midi", "display-capture")


def csp_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    policy = {}
    for part in response["Content-Security-Policy"].split(";"):
        directive, *sources = part.split()
        policy[directive] = sources
    return policy


def assert_strict_policies(response, *, form_action: list[str] | None = None) -> None:
    policy = csp_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no handlers, no eval, no other origin
    assert policy["style-src"] == ["'self'"]  # no <style> elements
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy.get("form-action", []) == (["'self'"] if form_action is None else form_action)
    assert "script-src-attr" not in policy and "script-src-elem" not in policy
    permissions = dict(item.split("=", 1) for item in response["Permissions-Policy"].split(", "))
    assert {feature: permissions.get(feature) for feature in DENIED_FEATURES} == dict.fromkeys(DENIED_FEATURES, "()")


def test_the_sign_in_page_has_the_policies_without_form_action(client):
    """The email step may hand over to a partner's SSO provider through redirects (settings.SSO_HANDOFF_VIEWS)."""
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    assert_strict_policies(response, form_action=[])


def test_the_password_step_posts_only_back_to_the_portal(client):
    user = PartnerAdminFactory()
    client.post(reverse("accounts:login"), {"email": user.email})

    response = client.get(reverse("accounts:login_password"))

    assert response.status_code == 200
    assert_strict_policies(response)


def test_a_signed_in_page_has_the_policies_and_is_never_stored(client):
    client.force_login(PartnerAdminFactory())

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert_strict_policies(response)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_an_admin_page_has_the_policies_and_is_never_stored(client):
    login_with_second_factor(client, AdminFactory())

    response = client.get(reverse("admin:partners_agreement_add"))

    assert response.status_code == 200
    assert_strict_policies(response)
    assert "no-store" in response["Cache-Control"]


def test_redirects_and_errors_for_a_signed_in_person_are_never_stored(client):
    client.force_login(PartnerAdminFactory())

    redirect = client.get(reverse("accounts:login"))
    missing = client.get("/no-such-page/")

    assert redirect.status_code == 302 and "no-store" in redirect["Cache-Control"]
    assert missing.status_code == 404 and "no-store" in missing["Cache-Control"]


def test_static_files_keep_their_caching_for_signed_in_people(client):
    client.force_login(PartnerAdminFactory())

    response = client.get("/static/css/portal.css")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.parametrize("view_name", settings.SSO_HANDOFF_VIEWS)
def test_every_sso_handoff_view_exists(view_name):
    """A renamed view would silently get form-action 'self' back, and browsers would stop its SSO hand-over."""
    namespace, name = view_name.split(":")
    _, resolver = get_resolver().namespace_dict[namespace]
    assert resolver.reverse_dict.getlist(name), view_name
