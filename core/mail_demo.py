"""Demo data for every mail template: what the admin's preview renders (nothing is saved or sent).

The names carry an apostrophe, an ampersand and non-ASCII letters on purpose: the preview (and the tests,
which render every template with these) show at a glance that the text part is never HTML-escaped and the
HTML part always is. Plain objects stand in for the models, so core needs no model of the layers above.
"""

import datetime
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from core.links import absolute_url


@dataclass(frozen=True)
class MailDemo:
    """One mail template with the subject and context the preview renders it with."""

    template: str
    subject: str
    context: dict
    partner: object = None


@dataclass(frozen=True)
class _DemoPartner:
    name: str
    slug: str
    account_manager: object

    def __str__(self) -> str:
        return self.name


def _person(name: str, email: str, **extra) -> SimpleNamespace:
    return SimpleNamespace(get_full_name=lambda: name, full_name=name, display_email=email, email=email.lower(),
                           name=name, **extra)


def _url(path: str) -> str:
    return settings.PORTAL_URL + path


def mail_demos() -> dict[str, MailDemo]:
    """Every mail template by name, with demo data (built on each call: times are relative to now)."""
    now = timezone.now()
    manager = _person("Jörg D'Souza", "Joerg.DSouza@vendor.example")
    partner = _DemoPartner(name="O'Brien & Söhne GmbH", slug="obrien-soehne", account_manager=manager)
    person = _person("Siobhán O'Brien", "Siobhan.O'Brien@obrien-soehne.example")
    admin = _person("Ana Müller-O'Neil", "Ana.Mueller@obrien-soehne.example")
    code = "Xq3vZ9-demo-code-7Lw0"
    invite = SimpleNamespace(name=person.name, display_email=person.display_email, partner=partner,
                             sent_at=now - datetime.timedelta(days=5), expires_at=now + datetime.timedelta(days=9),
                             last_error="451 4.3.0 Try again later")
    item = SimpleNamespace(name=person.name, display_email=person.display_email,
                           get_state_display=lambda: gettext("Submitted"))
    agreement = SimpleNamespace(version="3", signed_by_name=admin.name, signed_by_title="CEO & Founder",
                                signed_at=now - datetime.timedelta(hours=2),
                                valid_until=(now + datetime.timedelta(days=30)).date(),
                                document_sha256="9f2c" * 16)
    notifications = absolute_url("accounts:notifications")
    request_url = _url(f"/partners/{partner.slug}/requests/42/")
    invite_links = {"link": _url(f"/invite/#{code}"), "code": code, "code_url": _url("/invite/"),
                    "days": settings.INVITE_EXPIRY_DAYS}
    # The msgids of onboarding's decision mail, so the preview reads as the real mail in each language.
    entry = SimpleNamespace(item=item, detail=gettext("reason: %(reason)s") % {"reason": "Not one of ours & never was"})
    waiting = SimpleNamespace(
        item=SimpleNamespace(name="Bríd O'Hara", display_email="Brid.OHara@obrien-soehne.example"),
        detail=gettext("%(why)s; waits until %(until)s") % {
            "why": gettext("not on your account yet"), "until": (now + datetime.timedelta(days=14)).date()},
    )
    groups = [
        SimpleNamespace(heading=gettext("Rejected"), entries=[entry], more=0,
                        explanation=gettext("Your account manager rejected these requests.")),
        SimpleNamespace(heading=gettext("Waiting for the directory"), entries=[waiting], more=2,
                        explanation=gettext("The invitation goes out by itself once they are on your account.")),
    ]
    security = {"user": person, "security_url": _url("/accounts/security/")}
    demos = [
        MailDemo("agreement_accepted", f"{admin.name} accepted partner agreement v3 for {partner}",
                 {"manager": manager, "agreement": agreement, "partner": partner, "page_url": _url("/agreement/")},
                 partner),
        MailDemo("agreement_reminder", f"{partner}'s partner agreement ends in 30 days",
                 {"greeting": admin.name, "days_left": 30, "agreement": agreement, "partner": partner,
                  "offered": SimpleNamespace(label="4"), "signers": [admin.name], "is_manager": False,
                  "manager": manager, "page_url": _url("/agreement/")}, partner),
        MailDemo("invite", f"Your invitation to the Partner Portal ({partner})",
                 {"invite": invite, "partner": partner, **invite_links}, partner),
        MailDemo("welcome", f"Your Partner Portal account is ready ({partner})",
                 {"invite": invite, "partner": partner, **invite_links}, partner),
        MailDemo("invite_reminder", f"Reminder: your invitation to the Partner Portal ({partner})",
                 {"invite": invite, "partner": partner, "welcome": False, "manager": manager, **invite_links},
                 partner),
        MailDemo("invite_accepted", f"Your Partner Portal access for {partner} is active",
                 {"invite": invite, "partner": partner, "manager": manager, "signin_url": _url("/accounts/login/")},
                 partner),
        MailDemo("invite_failed", f"Invitation for {person.display_email} could not be delivered",
                 {"manager": manager, "invite": invite, "partner": partner, "partner_url": _url("/partners/x/"),
                  "notifications_url": notifications}, partner),
        MailDemo("invite_renewal_requested", f"{person.name} asks for a new invitation",
                 {"invite": invite, "invites_url": _url("/invites/")}, partner),
        MailDemo("person_accepted", f"{person.name} accepted the invitation",
                 {"requester": admin, "invite": invite, "partner": partner, "people_url": _url("/people/"),
                  "notifications_url": notifications}, partner),
        MailDemo("request_submitted", f"New portal-user list from {partner} to review",
                 {"partner": partner, "count": 3, "submitted_by": admin, "review_url": _url("/review/?list=42")},
                 partner),
        MailDemo("request_item_decided", f"Portal request for {person.display_email}: rejected",
                 {"requester": admin, "partner": partner, "entry": entry, "groups": groups[:1], "undecided": 2,
                  "request_url": request_url, "notifications_url": notifications}, partner),
        MailDemo("request_items_decided", f"Your portal request list for {partner}: 4 people decided",
                 {"requester": admin, "partner": partner, "count": 4, "groups": groups, "undecided": 1,
                  "portal_request": SimpleNamespace(submitted_at=now - datetime.timedelta(days=1)),
                  "request_url": request_url, "notifications_url": notifications}, partner),
        MailDemo("request_item_expired", f"Portal request for {person.display_email} expired",
                 {"item": item, "partner": partner, "days": 14, "person_url": _url("/people/7/"),
                  "notifications_url": notifications}, partner),
        MailDemo("request_items_flagged", f"Requests at obrien-soehne.example for {partner}: check before approving",
                 {"manager": manager, "partner": partner, "domain": "obrien-soehne.example", "items": [item],
                  "review_url": _url("/review/"), "partner_url": _url("/partners/x/")}, partner),
        MailDemo("password_reset_link", "Resetting your Partner Portal password",
                 {"user": person, "link": _url(f"/accounts/password/reset/link/#{code}"), "code": code,
                  "minutes": 30}),
        MailDemo("password_reset_not_allowed", "Resetting your Partner Portal password",
                 {"user": person, "contact": f"{manager.name} <{manager.display_email}>"}),
        MailDemo("password_reset_not_applicable", "Resetting your Partner Portal password",
                 {"user": person, "method": "single sign-on", "login_url": _url("/accounts/login/")}),
        MailDemo("password_changed", "Your Partner Portal password was changed",
                 {"user": person, "via": "changed", "reset_url": _url("/accounts/password/reset/")}, partner),
        MailDemo("two_factor_reset", "Your two-factor authentication was reset", security, partner),
        MailDemo("two_factor_replaced", "Your authenticator app was replaced", security, partner),
        MailDemo("two_factor_backup_codes_renewed", "New backup codes for your account", security, partner),
        MailDemo("passkey_added", "Your Partner Portal sign-in: a new passkey", {**security, "name": "Work laptop"},
                 partner),
        MailDemo("passkey_removed", "Your Partner Portal sign-in: a passkey was removed",
                 {**security, "name": "Work laptop"}, partner),
    ]
    return {demo.template: demo for demo in demos}
