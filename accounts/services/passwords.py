"""Cloud passwords: self-service reset by mail (R6) and changes. Never sent in mail, never enumerable."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.selectors import may_use_cloud_password, signin_user, user_auth_method
from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_send_on_commit
from partners.models import AuthMethod
from partners.selectors import account_settings_of

RESET_SUBJECT = "Your Partner Portal password"


def reset_contact(user: User) -> str:
    """Whom a person asks when they cannot reset their own password."""
    if user.partner_id is None:
        return "your Partner Portal administrator"
    settings_ = account_settings_of(user.partner)
    manager = user.partner.account_manager
    return settings_.reset_contact or (manager.display_email if manager else "your account manager")


def password_reset_request(*, email: str, request=None) -> None:
    """Mail a reset link, or why there is none; nothing at all for an address no one signs in with.

    The caller shows the same answer in every case, and the mail leaves from a worker after
    commit, so neither the page nor its timing tells whether the address exists.
    """
    user = signin_user(email=email)
    if user is None:
        return
    method = user_auth_method(user)
    context = {"user": user, "login_url": absolute_url("accounts:login")}
    if not may_use_cloud_password(user):
        template = "password_reset_not_applicable"
        context["method"] = "single sign-on" if method == AuthMethod.SSO else "your domain (Windows) password"
    elif user.partner_id and not account_settings_of(user.partner).self_service_reset:
        template = "password_reset_not_allowed"
        context["contact"] = reset_contact(user)
    else:
        template = "password_reset_link"
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        context["link"] = absolute_url("accounts:password_reset_confirm", uid, token)
        context["minutes"] = settings.PASSWORD_RESET_TIMEOUT // 60
    audit_record(actor=None, action="password.reset_requested", target=user, partner=user.partner, request=request,
                 data={"answer": template})
    # Not recorded: a reset link is a secret, and a row per known address would tell them apart.
    mail_send_on_commit(to=user.display_email, subject=RESET_SUBJECT, template=template, context=context,
                        durable=False)


def password_changed(*, user: User, request=None, via: str) -> None:
    """Record a password change (reset or change); other sessions already ended with the old hash."""
    audit_record(actor=user, action=f"password.{via}", target=user, partner=user.partner, request=request)
