"""Free text that reaches mail and pages (names, notes, rejection reasons) holds no control characters.

A line break in a name forges lines of the mail it is put in (a fake paragraph, a fake link; in a
header, "\\r\\nBcc: …"); a NUL or an escape confuses whatever reads the text next; a bidi override
or a zero-width character makes a name read as another. People's text is refused for them (they
can correct it); directory data is cleaned instead (directory_sync.mapping).
"""

import unicodedata

from django.core.exceptions import ValidationError

from onboarding.errors import TEXT_CONTROL_CHARACTERS

# Cc: C0 and C1 controls (CR, LF, NUL, tab, escape, …); Cf: format characters (bidi overrides, zero-width
# joiners, the byte-order mark); Cs: lone surrogates; Zl, Zp: Unicode's line and paragraph separators.
# Ordinary spaces (Zs) are fine.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Whether the text holds a control, format or line-separator character."""
    if text.isprintable():  # the common case, in C: only spaces other than " " make it False besides these
        return False
    return any(unicodedata.category(character) in REFUSED_CATEGORIES for character in text)


def validate_plain_text(value: str) -> None:
    """A model field's validator (the admin's forms run it): refuse control characters."""
    if value and has_control_characters(value):
        raise ValidationError(TEXT_CONTROL_CHARACTERS, code="control_characters")
