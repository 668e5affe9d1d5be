"""Taking a person off a partner's people: their access ends (accounts) and their open invitations die with it."""

from django.db import transaction

from accounts.models import User
from accounts.services.access import user_remove
from onboarding.models import Invite
from onboarding.services.invites.lifecycle import RESENDABLE_STATES, invite_revoke


def person_remove(*, user: User, actor, request=None) -> User:
    """Remove the person from the partner's portal: no access, no open invitation left to accept (one
    transaction: all of it, or nothing)."""
    with transaction.atomic():
        user = user_remove(user=user, actor=actor, request=request)
        for invite in Invite.objects.filter(user=user, state__in=RESENDABLE_STATES).order_by("pk"):
            invite_revoke(invite=invite, actor=actor, request=request)
    return user
