"""Every control is reachable with Tab, and whatever has the focus shows it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const card = el.closest(".issue-card");
  const visible = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) ||
    (card !== null && getComputedStyle(card).boxShadow !== "none");
  const label = el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent.trim()) ||
    el.textContent.trim().slice(0, 40) || el.getAttribute("placeholder") || "";
  return { tag: el.tagName.toLowerCase(), label, visible };
}"""


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("#/", ["Overview", "Processes", "Queue", "Issues", "Knowledge"]),
        ("#/issues", ["New issue", "Search issues", "Priority", "Tags (all must match)", "New issue in Open", "Fix"]),
        ("#/processes", ["Start process…", "Show processes in state", "Filter by name or title", "Sleeper"]),
        ("#/queue", ["Pause queue", "Sleeper", "Run at most", "Never wait more than", "Also retry", "Save settings"]),
        ("#/knowledge", ["New fragment", "Search knowledge (full text)", "question", "A note"]),
    ],
)
def test_tab_reaches_every_control_with_a_visible_focus(
    page: Any, dashboard: Dashboard, route: str, expected: list[str]
) -> None:
    dashboard.rpc("record_issue", {"title": "Fix it"})
    dashboard.rpc("record_fragment", {"title": "A note", "body": "Noted.", "type": "note"})
    dashboard.rpc("start_process", {"command": ["sleep", "30"], "title": "Sleeper", "immediate": True})
    goto(page, dashboard, route)
    # The view's data is in: its last focusable item from the instance is shown.
    data = [label for label in expected if label in ("Fix", "Sleeper", "A note")]
    for label in data:
        expect(page.get_by_text(label, exact=False).first).to_be_visible()
    page.locator("body").focus()
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] == "body":
            break
        assert focused["visible"], f"no visible focus on {focused}"
        reached.append(focused["label"])
    missing = [label for label in expected if not any(label in r for r in reached)]
    assert not missing, f"Tab never reached {missing}; it reached {reached}"


def test_live_updates_leave_the_focus_where_it_was(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": "Focus stays"})
    goto(page, dashboard, f"#/issues/{issue['id']}")
    column = page.locator("dialog.issue-dialog").get_by_label("Column", exact=True)
    column.focus()
    dashboard.rpc("update_issue", {"issue_id": issue["id"], "title": "Renamed elsewhere"})
    expect(page.locator("dialog.issue-dialog h2")).to_have_text("Renamed elsewhere")
    expect(page.locator("dialog.issue-dialog").get_by_label("Column", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog.issue-dialog")).not_to_be_attached()  # its close routes back to the board, a task later

    sleeper = dashboard.rpc("start_process", {"command": ["sleep", "30"], "title": "Sleeper", "immediate": True})
    goto(page, dashboard, f"#/processes/{sleeper['id']}")
    stop = page.get_by_role("button", name="Stop")
    stop.focus()
    dashboard.rpc("start_process", {"command": ["true"], "title": "Another one", "immediate": True})
    expect(page.locator(".process-row", has_text="Another one")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_focused()
    row = page.locator(f".process-list li[data-id='{sleeper['id']}'] a")
    row.focus()
    dashboard.rpc("start_process", {"command": ["true"], "title": "Yet another", "immediate": True})
    expect(page.locator(".process-row", has_text="Yet another")).to_be_visible()
    expect(row).to_be_focused()
    dashboard.rpc("stop_process", {"process_id": sleeper["id"], "force": True})
