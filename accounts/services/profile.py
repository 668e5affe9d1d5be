"""A person's own settings that are not about signing in: their time zone and their language."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.audit import audit_record
from core.languages import supported_language
from core.timezones import validate_time_zone


def user_time_zone_set(*, user: User, time_zone: str, actor, request=None) -> User:
    """The person's choice of time zone (an IANA name; blank: back to UTC); audited when it changed.

    Raises ValidationError for a name that is not a zone."""
    validate_time_zone(time_zone)
    return _own_setting_set(user=user, field="time_zone", value=time_zone, actor=actor, request=request)


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


def user_language_set(*, user: User, language: str, actor, request=None) -> User:
    """The person's choice of language (one the portal ships); audited when it changed.

    Raises ValidationError for a language the portal does not ship."""
    if supported_language(language) != language:
        raise ValidationError(_("Choose one of the languages offered."), code="invalid_language")
    return _own_setting_set(user=user, field="language", value=language, actor=actor, request=request)


def user_language_propose(*, user: User, language: str) -> bool:
    """The browser's language at sign-in, kept only while the person has chosen none (so that their mails are
    written in the language they read the portal in): True when it was kept."""
    language = supported_language(language)
    if not language or user.language:
        return False
    kept = User.objects.filter(pk=user.pk, language="").update(language=language)
    if kept:
        user.language = language
    return bool(kept)


def _own_setting_set(*, user: User, field: str, value: str, actor, request) -> User:
    """Save one of the person's own settings; audited as "user.<field>_changed" when it changed."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = getattr(locked, field)
        if before != value:
            setattr(locked, field, value)
            locked.save(update_fields=[field])
            audit_record(actor=actor, action=f"user.{field}_changed", target=locked, partner_id=locked.partner_id,
                         request=request, data={"from": before, "to": value})
    setattr(user, field, value)
    return user
