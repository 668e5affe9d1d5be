"""Cloud passwords: self-service reset by mail (R6) and changes. Never sent in mail, never enumerable.

A reset request is queued as it was typed, and a worker decides what happens: the page does the
same work for every address (no lookup, no audit row, no mail rendered), so neither its answer nor
its timing tells whether the address has an account. The link's secret travels in the URL's
fragment, which browsers never send to a server, so it reaches no access log (accounts.views.passwords).
"""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpRequest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import may_use_cloud_password, passkeys_of, signin_user, user_auth_method
from accounts.services.api_tokens import api_tokens_revoke_of
from core.audit import audit_record
from core.clients import client_ip
from core.links import absolute_url
from core.mail import mail_send_on_commit
from core.queue import enqueue_on_commit
from partners.models import AuthMethod
from partners.selectors import account_settings_of

RESET_SUBJECT = _("Your Partner Portal password")
CHANGED_SUBJECT = _("Your Partner Portal password was changed")
RESET_TASK = "accounts.password_reset_request"  # accounts.tasks.password_reset_request_task, queued by name


def reset_contact(user: User) -> str:
    """Whom a person asks when they cannot reset their own password."""
    if user.partner_id is None:
        return "your Partner Portal administrator"
    settings_ = account_settings_of(user.partner)
    manager = user.partner.account_manager
    return settings_.reset_contact or (manager.display_email if manager else "your account manager")


def password_reset_queue(*, email: str, request: HttpRequest) -> None:
    """Queue a reset request for the worker (after commit), with the address exactly as it was typed.

    Everything that depends on the address happens in the worker (password_reset_request).
    """
    enqueue_on_commit(RESET_TASK, email=email, client_ip=client_ip(request) or "",
                      user_agent=request.META.get("HTTP_USER_AGENT", "")[:300])


def password_reset_code(user: User) -> str:
    """The secret of a reset link, `uid.token` (Django's token: single use, PASSWORD_RESET_TIMEOUT)."""
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"


def password_reset_request(*, email: str, client_ip: str = "", user_agent: str = "") -> None:
    """(In the worker.) Mail a reset link, or why there is none; nothing at all for an address no one signs in with."""
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
        context["code"] = password_reset_code(user)
        # After "#": browsers keep the fragment to themselves, so the secret is in no server's log.
        context["link"] = f"{absolute_url('accounts:password_reset_link')}#{context['code']}"
        context["minutes"] = settings.PASSWORD_RESET_TIMEOUT // 60
    with transaction.atomic():
        audit_record(actor=None, action="password.reset_requested", target=user, partner=user.partner,
                     ip_address=client_ip, user_agent=user_agent, data={"answer": template})
        # Not recorded: a reset link is a secret.
        mail_send_on_commit(to=user.display_email, subject=RESET_SUBJECT, template=template, context=context,
                            durable=False)


def password_changed(*, user: User, request=None, via: str) -> None:
    """Record a password change (`via` "reset" or "changed") and tell the person by mail.

    Their other sessions ended already, with the old password hash. A passkey signs in without the password, so
    the mail names theirs: one they do not recognise may be how someone got in.
    """
    with transaction.atomic():
        audit_record(actor=user, action=f"password.{via}", target=user, partner=user.partner, request=request)
        api_tokens_revoke_of(user_ids=[user.pk], why=f"password.{via}", actor=user, request=request)
        mail_send_on_commit(to=user.display_email, subject=CHANGED_SUBJECT, template="password_changed",
                            partner=user.partner, context={
                                "user": user, "via": via, "reset_url": absolute_url("accounts:password_reset"),
                                "passkeys": [passkey.name for passkey in passkeys_of(user)],
                                "security_url": absolute_url("accounts:security"),
                            })
