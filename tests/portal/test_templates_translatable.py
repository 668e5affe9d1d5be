"""Every piece of user-facing text in the portal's templates goes through Django's translation tags.

Each template is split by Django's own template lexer. Text inside {% translate %}, {% blocktranslate %},
{% comment %}, <script> and <style> is not looked at; neither are template variables and tags (their
strings are translated where they are made). Of the rest, HTML tags are dropped except the attribute
values people read (aria-label, title, placeholder, alt, the value of a button, the texts of confirm
dialogs and of small-screen table labels); entities, punctuation, digits and whitespace are dropped too.
Any letter left over is English that a German reader would see untranslated.
"""

import html
import re
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parents[2]

# The portal's own templates, its pages and its mails (plain text, read the same way). Not what Django or a
# third-party package ships.
TEMPLATE_ROOTS = (ROOT / "templates", *(ROOT / app / "templates" for app in (
    "core", "partners", "directory_sync", "accounts", "onboarding", "portal") if (ROOT / app / "templates").is_dir()))

# Words that are not language and may stay outside a translation tag (compared as the words of one piece of
# text, joined by single spaces). Empty so far: even the brand and the "v" of a version number are translatable.
# Keep it short, and say why next to each entry.
ALLOWED: frozenset[str] = frozenset()

# Attributes whose values are read (aloud or on screen) by people.
READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "data-confirm", "data-label", "data-kept-text")

# Blocks that hold class names or <head> content, not text.
NOT_TEXT_BLOCKS = ("bodyclass", "extrastyle", "extrahead")

SENTINEL = "\x00"  # stands for a template variable or tag: it is not text of the template itself
TAG = re.compile(r"<(/?)(!?[a-zA-Z][\w-]*)([^>]*)>", re.S)
ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|\w+);")
HIDDEN_ELEMENTS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.S | re.I)
LETTERS = re.compile(r"[^\W\d_]")
WORDS = re.compile(r"[^\W\d_]+")


def portal_templates() -> list[Path]:
    found = []
    for root in TEMPLATE_ROOTS:
        found += sorted(path for path in root.rglob("*") if path.suffix in (".html", ".txt"))
    return found


def text_outside_translation(source: str) -> str:
    """The template's own text, with tags and variables as SENTINEL and translated or hidden parts removed."""
    parts = []
    skip_until = None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if skip_until:
                if name == skip_until:
                    skip_until = None
                continue
            if name in ("blocktranslate", "blocktrans"):
                skip_until = "end" + name
            elif name == "comment":
                skip_until = "endcomment"
            elif name == "block" and token.contents.split()[1:2] in ([block] for block in NOT_TEXT_BLOCKS):
                skip_until = "endblock"
            parts.append(SENTINEL)
        elif skip_until:
            continue
        elif token.token_type == TokenType.TEXT:
            parts.append(token.contents)
        else:
            parts.append(SENTINEL)
    return HIDDEN_ELEMENTS.sub(SENTINEL, "".join(parts))


def read_attribute_values(tag_name: str, attributes: str) -> list[str]:
    values = {name.lower(): value.strip("\"'") for name, value in ATTRIBUTE.findall(attributes)}
    read = [values[name] for name in READ_ATTRIBUTES if name in values]
    # A <button>'s value is sent, not shown; an <input type="submit">'s value is its label.
    if tag_name == "input" and values.get("type") in ("submit", "button", "reset") and "value" in values:
        read.append(values["value"])
    return read


def untranslated(source: str) -> list[str]:
    """The pieces of user-facing text in a template that are not inside a translation tag."""
    text = text_outside_translation(source)
    pieces = []
    position = 0
    for match in TAG.finditer(text):
        pieces.append(text[position : match.start()])
        pieces.extend(read_attribute_values(match.group(2).lower(), match.group(3)))
        position = match.end()
    pieces.append(text[position:])
    found = []
    for piece in pieces:
        for fragment in piece.split(SENTINEL):
            words = " ".join(html.unescape(ENTITY.sub(" ", fragment)).split())
            if LETTERS.search(words) and " ".join(WORDS.findall(words)) not in ALLOWED:
                found.append(words)
    return found


@pytest.mark.parametrize("path", portal_templates(), ids=lambda path: str(path.relative_to(ROOT)))
def test_template_has_no_text_outside_translation_tags(path):
    assert untranslated(path.read_text()) == [], f"{path.relative_to(ROOT)}: wrap these in {{% translate %}}"


def test_the_check_covers_the_pages_the_mails_and_the_partner_app_s_templates():
    names = {str(path.relative_to(ROOT)) for path in portal_templates()}
    assert {"templates/base.html", "templates/mail/invite.txt", "partners/templates/partners/agreement.html",
            "directory_sync/templates/admin/directory_sync/directoryconnection/scim_token.html"} <= names


def test_the_check_finds_untranslated_text_in_text_attributes_and_titles():
    source = (
        '{% load i18n %}{% block title %}Sign in · {% translate "Portal" %}{% endblock %}'
        '<input aria-label="Name of {{ who }}" class="wide" value="x">'
        '<input type="submit" value="Go"><button value="go">{% translate "Go" %}</button>'
        "<p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %}</p>"
        "<script>let word = 1;</script>{% comment %}A note{% endcomment %}<p>&nbsp;12 — {{ n }}</p>"
    )
    assert untranslated(source) == ["Sign in ·", "Name of", "Go"]
