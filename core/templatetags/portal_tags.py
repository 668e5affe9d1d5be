"""Template filters of the portal."""

import datetime

from django import template

register = template.Library()


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    """A time span for people: "3 days 4 hours", "2 hours 5 minutes", "40 seconds"."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"
