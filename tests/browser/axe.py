"""axe-core on every portal page a browser test shows, at desktop and at phone width.

`AxeAudit` checks each page of the browser contexts it watches in the state the test leaves it in:
right before each action that may submit or navigate (goto, click, check, Enter or Space), and when
the context closes or the test ends. A document is checked again only after its DOM changed. Each
check runs axe-core (pinned in tests/browser/axe/, installed by `make test`) at both widths; the
violations of impact serious or critical are collected and the test fails at teardown with the rule,
impact, element and address of each (tests/browser/conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
IMPACTS = ("serious", "critical")
WIDTHS = {"desktop": 1100, "phone": 390}
HEIGHT = 800

# The rule set: axe's defaults (WCAG 2.0-2.2 A and AA, and best practices), with target-size (WCAG 2.2
# 2.5.8, 24 x 24 px) switched on. No preload: axe would copy @import-ed style sheets (the admin's) into
# <style> elements, which the Content-Security-Policy refuses, and only the orientation-lock rule needs it.
RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, {
    resultTypes: ["violations"],
    preload: false,
    rules: {"target-size": {enabled: true}},
  });
  return result.violations.filter((rule) => impacts.includes(rule.impact)).map((rule) => ({
    rule: rule.id, impact: rule.impact, help: rule.help,
    targets: rule.nodes.map((node) => node.target.join(" ")),
  }));
}"""


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `make test`, or `npm ci` in {AXE_JS.parents[2]}.")
    return AXE_JS.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    target: str
    url: str
    width: str
    help: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}, {self.width}) {self.url}\n    {self.target}\n    {self.help}"


# After a check the document is "clean" until its DOM changes: an unchanged page is not checked twice.
MARK_CLEAN = """() => {
  window.__axeClean = true;
  if (!window.__axeObserver) {
    window.__axeObserver = new MutationObserver(() => { window.__axeClean = false; });
    window.__axeObserver.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  }
}"""


# The Django admin's own pages are Django's: only the admin pages the portal adds or customises
# (templates/admin/**, marked with the body class portal-admin) are held to the portal's standard.
ADMIN_PREFIX = "/admin/"
SKIP = """(admin) => window.__axeClean === true
  || (location.pathname.startsWith(admin) && !document.body.classList.contains("portal-admin"))"""


class AxeAudit:
    """The serious and critical axe-core violations on the pages of `origin` that the watched contexts show."""

    def __init__(self, origin: str):
        self.origin = origin.rstrip("/") + "/"
        self.violations: dict[tuple, Violation] = {}
        self.checks = 0
        self.contexts: list = []

    def watch(self, context) -> None:
        """Check the pages of `context` before the context closes (and before actions: see `before`)."""
        self.contexts.append(context)
        close = context.close

        def close_after_check(*args, **kwargs):
            self.check_open_pages(context)
            return close(*args, **kwargs)

        context.close = close_after_check

    def watches(self, page) -> bool:
        return any(page.context is context for context in self.contexts)

    def finish(self) -> None:
        """Check the pages still open, and close the contexts the test left open."""
        for context in self.contexts:
            try:
                self.check_open_pages(context)
                context.close()
            except Exception as exc:  # a context closed already has nothing left to check
                if "closed" not in str(exc):
                    raise

    def check_open_pages(self, context) -> None:
        for page in list(context.pages):
            if not page.is_closed():
                self.check(page)

    def check(self, page) -> None:
        """Run axe-core on the document `page` shows, at both widths, if it is the portal's and changed."""
        url = page.url
        if not url.startswith(self.origin):
            return
        try:
            page.wait_for_load_state()
            if page.evaluate(SKIP, ADMIN_PREFIX):
                return
            if not page.evaluate("() => typeof window.axe === 'object'"):
                # Evaluated through the browser's debugging protocol, outside the page's Content-Security-Policy.
                page.evaluate(axe_source())
            shown = page.viewport_size
            for width_name, width in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": HEIGHT})
                for found in page.evaluate(RUN_AXE, list(IMPACTS)):
                    self._record(found, url, width_name)
            if shown:
                page.set_viewport_size(shown)
            page.evaluate(MARK_CLEAN)
        except Exception as exc:
            # A page that navigated away or closed meanwhile: its next document is checked in turn.
            if any(gone in str(exc) for gone in ("destroyed", "closed", "navigat")):
                return
            raise
        self.checks += 1

    def _record(self, found: dict, url: str, width: str) -> None:
        path = url[len(self.origin) - 1:]
        for target in found["targets"]:
            violation = Violation(found["rule"], found["impact"], target, path, width, found["help"])
            self.violations.setdefault((violation.rule, violation.target, path.split("?")[0], width), violation)

    def report(self) -> str:
        lines = [str(v) for v in sorted(self.violations.values(), key=lambda v: (v.url, v.rule, v.width))]
        return (f"{len(lines)} accessibility violation(s) of impact {' or '.join(IMPACTS)} (axe-core):\n"
                + "\n".join(lines))

    def as_json(self) -> str:
        return json.dumps([vars(v) for v in self.violations.values()], indent=1)
