"""Accepting an invite or welcome link: the person proves who they are by their account's method.

Opening a link never consumes it — mail gateways' link scanners open links before people do —
the person confirms on the page (POST). The link carries its token in the fragment, which the
browser keeps; the page posts it, and the browser remembers the invitation it opened (see
onboarding.views.invites). A link works once its mail is being sent: the person
may use it before the worker's *sent* mark lands. An MSP's invite is accepted only while its address
is still the primary address of an enabled person on the partner's account. The mailbox the
invitation went to hears of its acceptance.
"""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy

from accounts.models import User
from core.audit import audit_record
from core.links import absolute_url
from core.mail import mail_send_on_commit
from directory_sync.selectors import recipient_lookup
from onboarding.errors import (
    ACCEPT_THROUGH_SSO,
    ALREADY_ACCEPTED,
    INVITE_ACCEPTED_SUBJECT,
    INVITE_LINK_INVALID,
    INVITE_PERSON_GONE,
    PASSWORD_REFUSED,
    InviteExpired,
    OnboardingError,
)
from onboarding.models import Invite, InviteKind, InviteState, ItemState
from onboarding.services.invites import invite_sent_record, person_items
from onboarding.services.invites.notices import invite_accepted_requesters_notify
from onboarding.services.invites.sending import invite_webhook_data
from partners.models import AuthMethod, WebhookEvent
from partners.selectors import account_settings_of, agreement_invite_blocked
from partners.services.webhooks import webhook_emit


def invite_method(invite: Invite) -> str:
    """How the invited person proves who they are: their account's sign-in method."""
    return account_settings_of(invite.partner).auth_method


def invite_check(invite: Invite | None) -> None:
    """Raise the reason an invite cannot be accepted now (the page shows it), or return."""
    # Only an open invite's current token is a link (see LINK_STATES); a revoked one is dead.
    if invite is None or invite.state == InviteState.REVOKED or (invite.is_open and invite.token_hash is None):
        raise OnboardingError(INVITE_LINK_INVALID)
    if invite.state == InviteState.ACCEPTED:
        raise OnboardingError(ALREADY_ACCEPTED)
    if invite.state == InviteState.EXPIRED or invite.is_expired():
        raise InviteExpired()
    if blocked := agreement_invite_blocked(partner=invite.partner):  # R1: a lapsed agreement stops acceptances too
        raise OnboardingError(blocked)
    if invite.kind == InviteKind.INVITE and not recipient_lookup(
        partner_id=invite.partner_id, address=invite.email
    ).is_primary:
        raise OnboardingError(INVITE_PERSON_GONE.format(email=invite.display_email, partner=invite.partner))


def invite_accept(*, invite: Invite, password: str = "", request=None, sso_user: User | None = None) -> User:
    """Accept: set the cloud password, or check the domain password, or take the SSO result; then
    activate the person. Raises OnboardingError (or ValidationError for a weak password)."""
    with transaction.atomic():
        locking = Invite.objects.select_for_update(of=("self",)).select_related("partner__account_manager", "item")
        invite = locking.get(pk=invite.pk)
        invite_check(invite)
        # The person's row, locked and read now: a change to it committed since the page was drawn (a removal, a
        # role change) is not written back undone by the saves below.
        user = User.objects.select_for_update().get(pk=invite.user_id)
        invite.user = user
        if invite.item is not None and user.role != invite.item.role:
            user.role = invite.item.role  # the role asked for this time (a person asked for again may differ)
        method = invite_method(invite)
        if invite.kind == InviteKind.INVITE:
            answer = recipient_lookup(partner_id=invite.partner_id, address=invite.email)
            user.directory_user = answer.person
        if (method == AuthMethod.SSO and account_settings_of(invite.partner).sso_enforced) or sso_user is not None:
            if sso_user is None or sso_user.pk != user.pk:
                raise OnboardingError(ACCEPT_THROUGH_SSO)
        elif method == AuthMethod.DOMAIN_PASSWORD:
            user.is_active = True
            user.access_ended, user.access_ended_at = "", None
            user.save()
            # The bind against the partner's directory is the proof; a refusal rolls the activation back.
            if authenticate(request, username=user.email, password=password) is None:
                raise OnboardingError(PASSWORD_REFUSED)
        else:
            validate_password(password, user)
            user.set_password(password)
        user.is_active = True
        user.access_ended, user.access_ended_at = "", None  # a person asked for again, after their access ended
        user.save()
        if invite.state != InviteState.SENT:
            # Used before the worker marked it sent (or after SMTP reported a failure): the mail evidently
            # arrived. A later try finds it accepted and does nothing, so it is recorded sent once, here.
            invite_sent_record(invite=invite)
        now = timezone.now()
        # The hash stays: the used link is then recognised and says "already accepted, sign in".
        invite.state = InviteState.ACCEPTED
        invite.accepted_at = now
        invite.save(update_fields=["state", "accepted_at"])
        person_items(invite).filter(
            state__in=[ItemState.INVITED, ItemState.ACCOUNT_CREATED, ItemState.VALIDATED]
        ).update(state=ItemState.ACCEPTED, user=user)
        audit_record(actor=user, action=f"{invite.kind}.accepted", target=invite, partner=invite.partner,
                     request=request, data={"method": method, "role": user.role})
        _accepted_notify(invite)
        invite_accepted_requesters_notify(invite=invite, user=user)
        webhook_emit(partner_id=invite.partner_id, event=WebhookEvent.INVITE_ACCEPTED,
                     data=invite_webhook_data(invite, role=user.role, method=method))
    return user


def _accepted_notify(invite: Invite) -> None:
    # Whoever used the link, the mailbox it was sent to hears of it: a person who did not accept it tells
    # their account manager. Recorded with the acceptance (a durable notification), sent after commit.
    mail_send_on_commit(
        to=invite.display_email, subject=format_lazy(INVITE_ACCEPTED_SUBJECT, partner=invite.partner),
        template="invite_accepted", partner=invite.partner,
        context={"invite": invite, "partner": invite.partner, "manager": invite.partner.account_manager,
                 "signin_url": absolute_url("accounts:login")},
    )
