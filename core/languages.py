"""Which language a page or a mail is drawn in.

The portal ships the languages in settings.LANGUAGES. A person's pages follow their own choice (User.language);
before they sign in, and while they have chosen none, the browser's (Accept-Language, or the language switch's
cookie; Django's LocaleMiddleware). Mail is rendered in its recipient's language: the person's own, else the
language of the partner it concerns (Partner.language, for people the portal has no account for yet, such as an
invitee), else the portal's LANGUAGE_CODE. The user model is reached as Django's contrib apps reach it
(`get_user_model`), and the partner by its `language` attribute, so this bottom layer imports no app above it.
"""

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation

from core.emails import InvalidEmail, normalize_email


def language_codes() -> tuple[str, ...]:
    """The codes of the languages the portal ships ("en", "de")."""
    return tuple(code for code, _name in settings.LANGUAGES)


def supported_language(code: str | None) -> str:
    """`code` when the portal ships it (a regional variant such as "de-AT" counts as "de"), else ""."""
    if not code:
        return ""
    code = code.lower().replace("_", "-")
    codes = language_codes()
    if code in codes:
        return code
    base = code.split("-")[0]
    return base if base in codes else ""


def recipient_language(to: str, *, partner=None) -> str:
    """The language a mail to `to` is written in: the person's choice, else the partner's, else the portal's."""
    chosen = ""
    try:
        email = normalize_email(to)
    except InvalidEmail:
        email = ""
    if email:
        chosen = get_user_model().objects.filter(email=email).values_list("language", flat=True).first() or ""
    return (supported_language(chosen) or supported_language(getattr(partner, "language", ""))
            or settings.LANGUAGE_CODE)


@contextlib.contextmanager
def in_recipient_language(to: str, *, partner=None) -> Iterator[str]:
    """Render (and translate lazy texts such as a subject) in the language of the mail's recipient; yields it."""
    language = recipient_language(to, partner=partner)
    with translation.override(language):
        yield language
