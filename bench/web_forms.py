"""The forms of a rendered page, as a browser sees them: so the benchmark posts what the templates post."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    attrs: dict[str, str]
    # (name, value, type) of every named input, select, textarea and button, in document order.
    fields: list[tuple[str, str, str]] = field(default_factory=list)

    def names(self) -> set[str]:
        return {name for name, _, _ in self.fields}

    def values(self, *, skip_types: tuple[str, ...] = ("checkbox", "radio", "submit", "button", "file", "reset")
               ) -> dict[str, str]:
        """What the form would post untouched: hidden and text values, no boxes, no buttons, no files."""
        return {name: value for name, value, kind in self.fields if kind not in skip_types}

    def checkbox_values(self, name: str) -> list[str]:
        return [value for n, value, kind in self.fields if n == name and kind == "checkbox"]

    def buttons(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value, kind in self.fields if kind in ("submit", "button")]


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower(),
                              a.get("enctype", "application/x-www-form-urlencoded"), a)
            self.forms.append(self._form)
            return
        form = self._form
        if form_id := a.get("form"):  # a control outside its form, tied to it by id
            form = next((f for f in self.forms if f.attrs.get("id") == form_id), form)
        if form is None or not a.get("name"):
            return
        if tag == "input":
            form.fields.append((a["name"], a.get("value", ""), a.get("type", "text").lower()))
        elif tag == "button":
            form.fields.append((a["name"], a.get("value", ""), a.get("type", "submit").lower()))
        elif tag == "select":
            form.fields.append((a["name"], "", "select"))
        elif tag == "textarea":
            form.fields.append((a["name"], "", "textarea"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_with(html: str, *, field_name: str | None = None, action_contains: str | None = None) -> Form | None:
    """The first form that has a field of that name (a prefix ending in '*' matches names starting with it)
    and/or whose action contains the text."""
    for form in forms_of(html):
        if action_contains is not None and action_contains not in form.action:
            continue
        if field_name is not None:
            if field_name.endswith("*"):
                if not any(n.startswith(field_name[:-1]) for n in form.names()):
                    continue
            elif field_name not in form.names():
                continue
        return form
    return None
