"""Rendering a mail: its plain text from templates/mail/<name>.txt, and its HTML part built from that text.

Each mail is written once, as plain text rendered with autoescaping off (a name like O'Brien is mailed as
written, never as O&#x27;Brien). The HTML part is derived from the same rendering, so the two never
disagree: paragraphs (separated by a blank line), lists (lines starting "- "), links (http(s) URLs), the
action ({% mail_action %}: a button and the same URL as a plain link) and the reason the person gets the
mail ({% mail_reason %}, in the footer of both parts). One layout, templates/mail/base.html, draws them
with inline styles only (mail clients drop <style> and <link>), and Django's autoescaping does all the
escaping: nothing of the text reaches the HTML unescaped.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext

from core.languages import in_recipient_language
from core.links import absolute_url
from core.templatetags.mail_tags import MARKS
from core.timezones import in_recipient_time_zone

# Private-use characters around an action's number: they cannot come from a URL, and a stray one left in
# a person's name matches no recorded action.
_ACTION = re.compile("\ue000(\\d+)\ue001")
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
PREHEADER_LENGTH = 140


@dataclass
class MailMarks:
    """What the mail tags record while a text template renders: its actions, and why it is sent."""

    actions: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""
    required: bool = False  # it goes out whatever the person chose: no link to choose

    def action(self, label: str, url: str) -> str:
        self.actions.append((label, url))
        return f"\ue000{len(self.actions) - 1}\ue001"


@dataclass(frozen=True)
class RenderedMail:
    """Both parts of one mail."""

    text: str
    html: str


def portal_name() -> str:
    """The portal's name, as mails show it (in the active language)."""
    return gettext("Partner Portal")


def _fill(message, params: dict) -> str:
    return str(message) % params if params else str(message)


_fill_lazy = lazy(_fill, str)


def mail_text(message, /, **params) -> Promise:
    """A text for a mail (its subject, or a line of its context) that is translated only when the mail is
    rendered, so in its recipient's language: `message` (a gettext_lazy or ngettext_lazy text, with
    %(name)s placeholders) filled with `params`. For {name} placeholders, Django's format_lazy does the same."""
    return _fill_lazy(message, params)


def mail_render(*, template: str, context: dict, subject: str = "", partner=None, to: str = "") -> RenderedMail:
    """Render `mail/<template>.txt` with `context`: its plain text, and the HTML in the shared layout.

    `partner` (or the context's `partner`) is the partner the mail concerns, named in the HTML's header.
    Given the recipient's address `to`, rendered in their language and time zone (core.languages,
    core.timezones); without it, in the active ones. Lazy texts in the context are translated then too."""
    if to:
        partner = partner if partner is not None else context.get("partner")
        with in_recipient_time_zone(to), in_recipient_language(to, partner=partner):
            return mail_render(template=template, context=context, subject=str(subject), partner=partner)
    marks = MailMarks()
    raw = get_template(f"mail/{template}.txt").template.render(
        Context({**context, MARKS: marks}, autoescape=False)
    ).strip()
    choose = None if marks.required else (gettext("Choose which mails you get:"),
                                          absolute_url("accounts:notifications"))
    footer = [marks.reason] if marks.reason else []
    footer += [f"{choose[0]} {choose[1]}"] if choose else []
    text = _ACTION.sub(lambda m: _action_text(marks, m), raw)
    text = "\n\n".join([text, "\n".join(footer)] if footer else [text]) + "\n"
    partner = partner if partner is not None else context.get("partner")
    blocks = _blocks(raw, marks)
    html = render_to_string("mail/base.html", {
        "lang": translation.get_language() or settings.LANGUAGE_CODE,
        "bidi": translation.get_language_bidi(),
        "subject": subject, "portal_name": portal_name(), "partner_name": str(partner) if partner else "",
        "preheader": _preheader(blocks), "blocks": blocks, "reason": marks.reason,
        "choose_label": choose[0] if choose else "", "choose_url": choose[1] if choose else "",
    })
    return RenderedMail(text=text, html=html)


def mail_message(*, to: list[str], subject: str, text: str, html: str = "") -> EmailMultiAlternatives:
    """A mail ready to send: the plain text, with the HTML as its alternative when there is one
    (multipart/alternative; mail recorded before HTML parts existed goes out as text alone)."""
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    return message


def _action_text(marks: MailMarks, match: re.Match, *, with_label: bool = True) -> str:
    number = int(match.group(1))
    if number >= len(marks.actions):
        return ""  # not one of ours (a private-use character typed into a name, say): dropped
    label, url = marks.actions[number]
    return f"{label}:\n{url}" if with_label else url


def _segments(line: str) -> list[dict]:
    """A line as text and links (each URL a link to itself; punctuation ending a sentence stays text)."""
    segments, at = [], 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        if match.start() > at:
            segments.append({"text": line[at:match.start()]})
        segments.append({"text": url, "url": url})
        at = match.start() + len(url)
    if at < len(line):
        segments.append({"text": line[at:]})
    return segments


def _blocks(raw: str, marks: MailMarks) -> list[dict]:
    """The rendered text as the layout's blocks: {"kind": "p", "lines"}, {"kind": "list", "items"}, or
    {"kind": "action", "label", "url"}; lines and items are lists of segments."""
    blocks: list[dict] = []
    for paragraph in _PARAGRAPHS.split(raw):
        current: dict | None = None
        for line in (line.strip() for line in paragraph.splitlines()):
            action = _ACTION.fullmatch(line)
            if action and int(action.group(1)) < len(marks.actions):
                label, url = marks.actions[int(action.group(1))]
                blocks.append({"kind": "action", "label": label, "url": url})
                current = None
                continue
            line = _ACTION.sub(lambda m: _action_text(marks, m, with_label=False), line)
            if not line:
                continue
            kind = "list" if line.startswith("- ") else "p"
            if current is None or current["kind"] != kind:
                current = {"kind": kind, "lines": []}
                blocks.append(current)
            current["lines"].append(_segments(line[2:] if kind == "list" else line))
    return blocks


def _preheader(blocks: list[dict]) -> str:
    """The line mail clients show after the subject: the first paragraph after the greeting, shortened."""
    paragraphs = [block for block in blocks if block["kind"] == "p"]
    if not paragraphs:
        return ""
    chosen = paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]
    text = " ".join("".join(segment["text"] for segment in line) for line in chosen["lines"])
    return text if len(text) <= PREHEADER_LENGTH else text[:PREHEADER_LENGTH - 1].rstrip() + "…"
