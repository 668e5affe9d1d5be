"""A person's own settings that are not about signing in: their time zone."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from core.audit import audit_record
from core.timezones import validate_time_zone


def user_time_zone_set(*, user: User, time_zone: str, actor, request=None) -> User:
    """The person's choice of time zone (an IANA name; blank: back to UTC); audited when it changed.

    Raises ValidationError for a name that is not a zone."""
    validate_time_zone(time_zone)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.time_zone != time_zone:
            before = locked.time_zone
            locked.time_zone = time_zone
            locked.save(update_fields=["time_zone"])
            audit_record(actor=actor, action="user.time_zone_changed", target=locked, partner_id=locked.partner_id,
                         request=request, data={"from": before, "to": time_zone})
    user.time_zone = time_zone
    return user


def user_time_zone_propose(*, user: User, time_zone: str, request=None) -> bool:
    """The browser's zone, kept only while the person has chosen none and only when it is a real zone: True
    when it was kept. A proposal never overrides a choice, even one made in another tab meanwhile."""
    if not time_zone or len(time_zone) > 64:
        return False
    try:
        validate_time_zone(time_zone)
    except ValidationError:  # a browser's odd answer is simply not kept
        return False
    with transaction.atomic():
        kept = User.objects.filter(pk=user.pk, time_zone="").update(time_zone=time_zone)
        if kept:
            audit_record(actor=user, action="user.time_zone_proposed", target=user, partner_id=user.partner_id,
                         request=request, data={"to": time_zone})
    if kept:
        user.time_zone = time_zone
    return bool(kept)
