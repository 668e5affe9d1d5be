"""The accessibility check itself (tests/browser/axe.py): it finds a violation, at both widths, and names it."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNLABELLED_BOX = """() => {
  const box = document.createElement("input");
  box.type = "text";
  box.id = "unlabelled";
  document.querySelector("main").append(box);
}"""


def test_an_unlabelled_box_is_reported_at_both_widths_with_its_selector(live_server, page, axe_audit):
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(UNLABELLED_BOX)

    axe_audit.check(page)

    found = {(v.rule, v.impact, v.target, v.url, v.width) for v in axe_audit.violations.values()}
    assert found == {("label", "critical", "#unlabelled", "/accounts/login/", width) for width in ("desktop", "phone")}
    assert "label (critical, phone) /accounts/login/\n    #unlabelled" in axe_audit.report()
    axe_audit.violations.clear()  # found on purpose: the test itself must not fail at teardown


def test_an_unchanged_page_is_not_checked_twice(live_server, page, axe_audit):
    page.goto(f"{live_server.url}/accounts/login/")
    axe_audit.check(page)
    axe_audit.check(page)
    assert axe_audit.checks == 1
