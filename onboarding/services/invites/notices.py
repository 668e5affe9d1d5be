"""Who hears about an invite besides the invited person: the requesters when it is accepted, the account
manager when its mail failed for good. Both are optional notifications (core.mail's `MailKind`), recorded in
the transaction of the state change they tell of (the outbox), so each goes out once that commits, and once.
"""

from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from core.links import absolute_url
from core.mail import MailKind, mail_kind_declare, mail_kind_recipients, mail_prepare, mails_send_on_commit
from core.mail_render import mail_text
from onboarding.models import Invite, RequestItem

PERSON_ACCEPTED = mail_kind_declare(MailKind(
    key="person_accepted", order=30, audience=lambda user: user.is_partner_admin or user.is_vendor_staff,
    label=gettext_lazy("When a person I asked for accepts their invitation"),
))
INVITE_FAILED = mail_kind_declare(MailKind(
    key="invite_failed", order=40, audience=lambda user: user.is_vendor_staff,
    label=gettext_lazy("Invitations that could not be delivered, for partners I manage"),
))


def invite_accepted_requesters_notify(*, invite: Invite, user) -> None:
    """Tell whoever asked for this person (each requester once, over every list the invite serves) that they
    accepted — not the person themselves. Call in the acceptance's transaction."""
    # The person may have been asked for on several lists (one open invite serves them all).
    items = RequestItem.objects.filter(Q(pk=invite.item_id) | Q(partner_id=invite.partner_id, email=invite.email))
    partner = invite.partner
    # Those who still speak for the partner: its own people, its account manager now, and admins — not an account
    # manager who entered a list for it once and has since handed the partner over, nor someone moved elsewhere.
    still_concerned = Q(partner_id=partner.pk) | Q(role=Role.ADMIN)
    if partner.account_manager_id:
        still_concerned |= Q(pk=partner.account_manager_id)
    requesters = (User.objects.filter(submitted_requests__items__in=items).filter(still_concerned)
                  .exclude(pk=user.pk).distinct())
    mails_send_on_commit([
        mail_prepare(
            to=requester.display_email, template="person_accepted", partner=partner,
            subject=mail_text(gettext_lazy("%(email)s accepted the Partner Portal invitation (%(partner)s)"),
                              email=invite.display_email, partner=partner),
            context={"requester": requester, "invite": invite, "partner": partner,
                     "people_url": absolute_url("onboarding:partner_detail", partner.slug),
                     "notifications_url": absolute_url("accounts:notifications")},
        )
        for requester in mail_kind_recipients(kind=PERSON_ACCEPTED, users=requesters)
    ])


def invite_failed_notify(*, invite: Invite) -> None:
    """Tell the partner's account manager that an invite's mail failed for good, and what to do. Call with the
    invite locked, in the transaction that marks it failed (so a failure is told once)."""
    partner = invite.partner
    mails_send_on_commit([
        mail_prepare(
            to=manager.display_email, template="invite_failed", partner=partner,
            subject=mail_text(gettext_lazy("Portal invitation for %(email)s could not be delivered (%(partner)s)"),
                              email=invite.display_email, partner=partner),
            context={"manager": manager, "invite": invite, "partner": partner,
                     "partner_url": absolute_url("onboarding:partner_detail", partner.slug),
                     "notifications_url": absolute_url("accounts:notifications")},
        )
        for manager in mail_kind_recipients(kind=INVITE_FAILED, users=[partner.account_manager])
    ])
