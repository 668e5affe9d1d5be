"""Times for people: in the zone in use (the viewer's, or a mail recipient's), with the zone named.

`{{ value|when }}` draws `<time datetime="ISO">2026-11-29 09:07 CET</time>`, or, within a week of now,
"in 3 days" / "2 hours ago" with the absolute time as its title; `{{ value|when:"absolute" }}` never goes
relative (a log, a list read for exact times). `{{ value|local_time }}` is the absolute time as plain text
(mail bodies, attributes). Dates without a time stay dates. CSV exports do not use these: they stay UTC.
"""

import datetime

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext_lazy

from core.timezones import zone_abbreviation

register = template.Library()

RELATIVE_WITHIN = datetime.timedelta(days=7)  # closer to now than this, "in 3 days" reads better than a date
FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"

# Whole sentences for translators: "in" and "ago" take different forms of the unit in some languages.
FUTURE = {
    "year": ngettext_lazy("in %(num)d year", "in %(num)d years", "num"),
    "month": ngettext_lazy("in %(num)d month", "in %(num)d months", "num"),
    "week": ngettext_lazy("in %(num)d week", "in %(num)d weeks", "num"),
    "day": ngettext_lazy("in %(num)d day", "in %(num)d days", "num"),
    "hour": ngettext_lazy("in %(num)d hour", "in %(num)d hours", "num"),
    "minute": ngettext_lazy("in %(num)d minute", "in %(num)d minutes", "num"),
}
PAST = {
    "year": ngettext_lazy("%(num)d year ago", "%(num)d years ago", "num"),
    "month": ngettext_lazy("%(num)d month ago", "%(num)d months ago", "num"),
    "week": ngettext_lazy("%(num)d week ago", "%(num)d weeks ago", "num"),
    "day": ngettext_lazy("%(num)d day ago", "%(num)d days ago", "num"),
    "hour": ngettext_lazy("%(num)d hour ago", "%(num)d hours ago", "num"),
    "minute": ngettext_lazy("%(num)d minute ago", "%(num)d minutes ago", "num"),
}


def _local(value: datetime.datetime) -> datetime.datetime:
    """`value` in the zone in use; a naive value is taken to be in the portal's TIME_ZONE."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return timezone.localtime(value)


def absolute_time(value: datetime.datetime) -> str:
    """"2026-11-29 09:07 CET": the time in the zone in use, the zone named."""
    local = _local(value)
    return f"{dateformat.format(local, FORMAT)} {zone_abbreviation(local)}"


def relative_time(value: datetime.datetime, *, now: datetime.datetime | None = None) -> str:
    """"in 3 days", "2 hours ago", "just now": the largest whole unit between now and `value`."""
    now = now or timezone.now()
    if abs(value - now) < datetime.timedelta(minutes=1):
        return gettext("just now")
    if value > now:
        return timesince(now, value, time_strings=FUTURE, depth=1)
    return timesince(value, now, time_strings=PAST, depth=1)


@register.filter(is_safe=True)
def when(value, mode: str = ""):
    """A `<time>` element: the absolute time with its zone, or (within a week, unless `mode` is "absolute") the
    relative one with the absolute as its title. A date is drawn as a date; None or "" as ""."""
    if value in (None, ""):
        return ""
    if not isinstance(value, datetime.datetime):
        if isinstance(value, datetime.date):
            return format_html('<time datetime="{}">{}</time>', value.isoformat(),
                               dateformat.format(value, DATE_FORMAT))
        return value
    local = _local(value)
    absolute = absolute_time(local)
    now = timezone.now()
    if mode != "absolute" and abs(local - now) < RELATIVE_WITHIN:
        return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(timespec="seconds"), absolute,
                           relative_time(local, now=now))
    return format_html('<time datetime="{}">{}</time>', local.isoformat(timespec="seconds"), absolute)


@register.filter
def local_time(value) -> str:
    """The absolute time as plain text, "2026-11-29 09:07 CET" (for mail bodies and attributes); "" for None."""
    if value in (None, ""):
        return ""
    if not isinstance(value, datetime.datetime):
        return dateformat.format(value, DATE_FORMAT) if isinstance(value, datetime.date) else value
    return absolute_time(value)
