"""The kanban: create, drag and drop, keyboard moves, live changes from other clients, filters, deep links."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto
from tests.waiting import until


def column(page: Any, status: str) -> Any:
    return page.locator(f"section.column[data-status='{status}']")


def card(page: Any, issue_id: str) -> Any:
    return page.locator(f"li.issue-card[data-id='{issue_id}']")


def test_an_issue_created_in_the_dashboard_appears_on_the_board(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/issues")
    page.get_by_role("button", name="New issue", exact=True).click()
    dialog = page.locator("dialog.issue-dialog")
    dialog.get_by_label("Title", exact=True).fill("Make the tray icon crisp")
    dialog.get_by_label("Description (markdown)", exact=True).fill("It is **blurry** at 200%.")
    dialog.get_by_label("Priority", exact=True).select_option("high")
    dialog.get_by_label("Tags", exact=True).fill("ui, icons")
    dialog.get_by_role("button", name="Create issue").click()
    expect(dialog).to_be_hidden()

    new_card = column(page, "open").locator("li.issue-card", has_text="Make the tray icon crisp")
    expect(new_card).to_be_visible()
    expect(new_card.locator(".badge")).to_have_text("high")
    expect(new_card.locator(".tag")).to_have_text(["ui", "icons"])
    stored = dashboard.rpc("list_issues", {"text": "tray icon"})["issues"]
    assert [(i["title"], i["content"], i["tags"]) for i in stored] == [
        ("Make the tray icon crisp", "It is **blurry** at 200%.", ["ui", "icons"])
    ]


def test_a_card_dragged_to_in_progress_stays_there_after_a_reload(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": "Drag me"})
    goto(page, dashboard, "#/issues")
    source = card(page, issue["id"])
    expect(source).to_be_visible()

    source.drag_to(column(page, "in-progress"))

    expect(column(page, "in-progress").locator(f"li[data-id='{issue['id']}']")).to_be_visible()
    until(
        lambda: dashboard.rpc("get_issue", {"issue_id": issue["id"]})["status"] == "in-progress",
        "the issue to be in progress",
    )
    page.reload()
    page.wait_for_selector("body[data-board='ready']")
    expect(column(page, "in-progress").locator(f"li[data-id='{issue['id']}']")).to_be_visible()
    expect(column(page, "open").locator(f"li[data-id='{issue['id']}']")).to_have_count(0)
    expect(column(page, "in-progress").locator(".column-count")).to_have_text("1")


def test_a_card_moves_by_keyboard_with_alt_and_the_arrow_keys(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": "Move me by keyboard"})
    goto(page, dashboard, "#/issues")
    link = card(page, issue["id"]).locator(".card-link")
    link.focus()

    page.keyboard.press("Alt+ArrowRight")
    expect(column(page, "in-progress").locator(f"li[data-id='{issue['id']}']")).to_be_visible()
    # Focus stays on the moved card, so the next key press moves it on.
    expect(card(page, issue["id"]).locator(".card-link")).to_be_focused()
    page.keyboard.press("Alt+ArrowRight")
    expect(column(page, "completed").locator(f"li[data-id='{issue['id']}']")).to_be_visible()
    until(
        lambda: dashboard.rpc("get_issue", {"issue_id": issue["id"]})["status"] == "completed",
        "the issue to be completed",
    )
    page.keyboard.press("Alt+ArrowLeft")
    until(
        lambda: dashboard.rpc("get_issue", {"issue_id": issue["id"]})["status"] == "in-progress",
        "the issue to be in progress",
    )
    expect(page.get_by_role("status").filter(has_text="moved to In progress")).to_be_attached()


def test_the_column_menu_of_an_opened_card_moves_it_too(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": "Move me from the dialog"})
    goto(page, dashboard, f"#/issues/{issue['id']}")
    page.locator("dialog.issue-dialog").get_by_label("Column", exact=True).select_option("archived")
    expect(column(page, "archived").locator(f"li[data-id='{issue['id']}']")).to_be_visible()
    assert dashboard.rpc("get_issue", {"issue_id": issue["id"]})["status"] == "archived"


def test_changes_by_another_client_appear_within_a_second(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/issues")
    page.wait_for_selector("body[data-board='ready']")

    started = time.monotonic()
    issue = dashboard.rpc("record_issue", {"title": "Filed by an agent", "priority": "low"})
    expect(card(page, issue["id"])).to_be_visible(timeout=1000)
    appeared = time.monotonic() - started

    dashboard.rpc("update_issue", {"issue_id": issue["id"], "status": "completed", "title": "Done by an agent"})
    moved = column(page, "completed").locator(f"li[data-id='{issue['id']}']")
    expect(moved).to_contain_text("Done by an agent", timeout=1000)
    expect(column(page, "completed").locator(".column-count")).to_have_text("1", timeout=1000)

    dashboard.rpc("delete_issue", {"issue_id": issue["id"]})
    expect(card(page, issue["id"])).to_have_count(0, timeout=1000)
    assert appeared < 1.0


def test_filters_by_text_priority_and_tag(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("record_issue", {"title": "Crash on start", "priority": "high", "tags": ["bug"]})
    dashboard.rpc("record_issue", {"title": "Typo in help", "priority": "low", "tags": ["docs"]})
    dashboard.rpc("record_issue", {"title": "Crash on exit", "priority": "low", "tags": ["bug", "exit"]})
    goto(page, dashboard, "#/issues")
    cards = page.locator("li.issue-card .card-link")
    expect(cards).to_have_count(3)

    page.get_by_label("Search issues", exact=True).fill("crash")
    expect(cards).to_have_text(["Crash on exit", "Crash on start"])
    page.get_by_label("Priority", exact=True).select_option("low")
    expect(cards).to_have_text(["Crash on exit"])
    page.get_by_role("button", name="Clear filters").click()
    expect(cards).to_have_count(3)
    page.get_by_label("Tags (all must match)", exact=True).fill("bug")
    expect(cards).to_have_text(["Crash on exit", "Crash on start"])
    # A live change that does not match the filters stays off the board.
    dashboard.rpc("record_issue", {"title": "Unrelated", "tags": ["docs"]})
    dashboard.rpc("record_issue", {"title": "Another crash", "tags": ["bug"]})
    expect(cards).to_have_text(["Another crash", "Crash on exit", "Crash on start"])


def test_a_deep_link_opens_the_issue_and_closing_it_returns_to_the_board(page: Any, dashboard: Dashboard) -> None:
    for n in range(3):
        dashboard.rpc("record_issue", {"title": f"Issue number {n + 1}", "content": f"# Heading {n + 1}\n\nBody"})
    web_url = dashboard.rpc("get_issue", {"issue_id": "ISSUE_3"})["web_url"]
    assert web_url.endswith("#/issues/ISSUE_3")

    page.goto(web_url)
    dialog = page.locator("dialog.issue-dialog[open]")
    expect(dialog.get_by_role("heading", name="Issue number 3")).to_be_visible()
    expect(dialog.locator(".markdown h2")).to_have_text("Heading 3")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert page.evaluate("location.hash") == "#/issues"
    expect(card(page, "ISSUE_3").locator(".card-link")).to_be_focused()


def test_editing_an_issue_keeps_what_was_not_changed(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": "Old title", "content": "Old text", "tags": ["keep"]})
    goto(page, dashboard, f"#/issues/{issue['id']}")
    dialog = page.locator("dialog.issue-dialog")
    dialog.get_by_role("button", name="Edit").click()
    dialog.get_by_label("Title", exact=True).fill("New title")
    dialog.get_by_role("button", name="Preview").click()
    expect(dialog.locator(".preview")).to_have_text("Old text")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("heading", name="New title")).to_be_visible()
    stored = dashboard.rpc("get_issue", {"issue_id": issue["id"]})
    assert (stored["title"], stored["content"], stored["tags"]) == ("New title", "Old text", ["keep"])
    expect(card(page, issue["id"]).locator(".card-link")).to_have_text("New title")
