"""The browser tests' accessibility check: axe-core on every portal page they show (tests/browser/axe.py)."""

import functools

import pytest
from playwright.sync_api import Keyboard, Locator, Page

from tests.browser.axe import AxeAudit

# Actions that may submit a form or leave the page: the page is checked in the state the test left it in.
SUBMITTING_KEYS = {"Enter", " ", "Space"}


def _before(audit: AxeAudit, page_of, method, key_at: int | None):
    """`method`, checking the page first (for a key press, only when the key may submit: `key_at` is its place)."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        page = page_of(self)
        key = kwargs.get("key", args[key_at] if key_at is not None and len(args) > key_at else None)
        if page is not None and audit.watches(page) and (key_at is None or key in SUBMITTING_KEYS):
            audit.check(page)
        return method(self, *args, **kwargs)

    return checked


@pytest.fixture(autouse=True)
def axe_audit(request, monkeypatch):
    """Every browser context a test opens is watched; the test fails at teardown on any serious or
    critical axe-core violation, at desktop or phone width, of a page of the portal it showed."""
    if "browser" not in request.fixturenames or "live_server" not in request.fixturenames:
        yield None
        return
    browser = request.getfixturevalue("browser")
    audit = AxeAudit(request.getfixturevalue("live_server").url)
    new_context = browser.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        audit.watch(context)
        return context

    def keyboard_page(keyboard):
        return next((page for context in audit.contexts for page in context.pages
                     if page.keyboard._impl_obj is keyboard._impl_obj), None)

    monkeypatch.setattr(browser, "new_context", watched_context)
    for cls, name, page_of, key_at in [
        (Page, "goto", lambda page: page, None),
        (Page, "click", lambda page: page, None),
        (Page, "check", lambda page: page, None),
        (Page, "press", lambda page: page, 1),  # page.press(selector, key)
        (Locator, "click", lambda locator: locator.page, None),
        (Locator, "check", lambda locator: locator.page, None),
        (Locator, "press", lambda locator: locator.page, 0),
        (Keyboard, "press", keyboard_page, 0),
    ]:
        monkeypatch.setattr(cls, name, _before(audit, page_of, getattr(cls, name), key_at))
    yield audit
    monkeypatch.undo()
    audit.finish()
    if audit.violations:
        pytest.fail(audit.report(), pytrace=False)
