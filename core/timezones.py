"""People's time zones: which IANA names are valid, the choices offered, and rendering in someone's zone.

A person's zone is `User.time_zone` (blank until chosen: then UTC, the portal's TIME_ZONE). Pages are
drawn in the viewer's zone (accounts.middleware.TimeZoneMiddleware activates it); a mail is drawn in
its recipient's: wrap its rendering in `in_recipient_time_zone(to)` (or
`override_time_zone(recipient_time_zone(to))`). The user model is reached as Django's own contrib apps
reach it (`get_user_model`), so this bottom layer imports no app above it.
"""

import contextlib
import datetime
import functools
import zoneinfo
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.emails import InvalidEmail, normalize_email

# tzdata ships a few files that are not places ("Factory" names no zone; "localtime" and "posixrules" are
# the host's links): never offered, never accepted.
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules", "posix/Factory", "right/Factory"})
# The areas the choice lists, each a group of its places; every other valid name (a legacy "US/Eastern")
# is accepted and kept but not listed unless it is the person's own.
AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
         "Pacific")
INVALID_TIME_ZONE = _("Choose a time zone from the list, such as Europe/Berlin.")


@functools.cache
def valid_time_zones() -> frozenset[str]:
    """Every IANA name the portal accepts (tzdata's, without its non-zone files)."""
    return frozenset(name for name in zoneinfo.available_timezones()
                     if name not in NOT_ZONES and not name.startswith(("posix/", "right/", "build/")))


def is_valid_time_zone(name: str) -> bool:
    return name in valid_time_zones()


def validate_time_zone(value: str) -> None:
    """Model and form validator: blank (not chosen yet) or an IANA name."""
    if value and not is_valid_time_zone(value):
        raise ValidationError(INVALID_TIME_ZONE, code="invalid_time_zone")


def utc_offset(name: str, *, at: datetime.datetime | None = None) -> str:
    """The zone's offset from UTC at `at` (now by default), e.g. "UTC+01:00", "UTC-03:30", "UTC"."""
    offset = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if not minutes:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def time_zone_label(name: str) -> str:
    """A place as people read it: "America/Argentina/Buenos_Aires" → "Argentina/Buenos Aires"."""
    area, _sep, place = name.partition("/")
    return (place if area in AREAS and place else name).replace("_", " ")


def time_zone_choices(*, current: str = "") -> list:
    """The choice of zones for a select: UTC, then one group per area of its places with their offset now;
    `current` (the person's zone) is listed even where it is a legacy name."""
    now = timezone.now()
    grouped: dict[str, list[tuple[str, str]]] = {area: [] for area in AREAS}
    for name in sorted(valid_time_zones()):
        area = name.partition("/")[0]
        if (area in grouped and "/" in name) or (name == current and name != "UTC"):
            grouped.setdefault(area if area in grouped else str(_("Other")), []).append(
                (name, f"{time_zone_label(name)} ({utc_offset(name, at=now)})"))
    return [("UTC", "UTC"), *((area, places) for area, places in grouped.items() if places)]


def zone_abbreviation(value: datetime.datetime) -> str:
    """The name of the zone of an aware datetime at that moment: "CET", "EDT", "UTC"; where tzdata has no
    abbreviation ("-03", "+0530") the offset as "UTC-03"."""
    name = value.tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" and name else name


@contextlib.contextmanager
def override_time_zone(zone: str | None) -> Iterator[None]:
    """Render in `zone` (an IANA name; blank or invalid: the portal's TIME_ZONE), then restore the zone
    that was active before: for mails, and for anything drawn for someone else than the viewer."""
    name = zone if zone and is_valid_time_zone(zone) else settings.TIME_ZONE
    with timezone.override(zoneinfo.ZoneInfo(name)):
        yield


def recipient_time_zone(to: str) -> str:
    """The time zone of the person with address `to` ("" when no person has it or they chose none)."""
    try:
        email = normalize_email(to)
    except InvalidEmail:
        return ""
    return get_user_model().objects.filter(email=email).values_list("time_zone", flat=True).first() or ""


@contextlib.contextmanager
def in_recipient_time_zone(to: str) -> Iterator[str]:
    """Render a mail to `to` in its recipient's zone (UTC for someone without one); yields the zone's name."""
    zone = recipient_time_zone(to)
    with override_time_zone(zone):
        yield timezone.get_current_timezone_name()


def portal_today(moment: datetime.datetime | None = None) -> datetime.date:
    """Today (or the day of `moment`) in the portal's own zone (TIME_ZONE), whoever is looking: for rules (is an
    agreement current?) that must not move with the viewer's zone, which `timezone.localdate()` follows while a
    request is drawn."""
    return timezone.localdate(moment, timezone=zoneinfo.ZoneInfo(settings.TIME_ZONE))
