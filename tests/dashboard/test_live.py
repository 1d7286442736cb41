"""Live everywhere: the overview follows changes as they happen, and a restarted server is found again."""

from __future__ import annotations

import json
import sys
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import ARTIFACTS, Dashboard, Guard, goto


def stat(page: Any, kind: str) -> Any:
    return page.locator(f".stat[data-stat='{kind}'] dd a")


def test_the_overview_counts_follow_changes_made_elsewhere(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/")
    expect(page.get_by_test_id("overview-connection")).to_have_text("connected")
    expect(page.locator(".instance-card")).to_contain_text(dashboard.url)
    cwd = json.loads((dashboard.data_dir / "instance.json").read_text())["cwd"]
    expect(page.get_by_test_id("overview-cwd")).to_have_text(cwd)
    expect(stat(page, "open")).to_have_text("0")

    dashboard.rpc("record_issue", {"title": "One"})
    second = dashboard.rpc("record_issue", {"title": "Two"})
    expect(stat(page, "open")).to_have_text("2", timeout=1000)
    dashboard.rpc("update_issue", {"issue_id": second["id"], "status": "in-progress"})
    expect(stat(page, "in-progress")).to_have_text("1", timeout=1000)
    expect(stat(page, "open")).to_have_text("1")

    dashboard.rpc("set_milestone", {"title": "Ship it", "progress": 60, "targetDate": "2030-01-01"})
    expect(page.locator(".milestone-title")).to_have_text("Ship it", timeout=1000)
    expect(page.locator(".milestone-body progress")).to_have_attribute("value", "60")
    expect(page.locator(".progress-value")).to_have_text("60%")

    running = dashboard.rpc(
        "start_process",
        {"command": [sys.executable, "-c", "import time; time.sleep(60)"], "title": "Sleeper", "immediate": True},
    )
    expect(stat(page, "running")).to_have_text("1", timeout=1000)
    dashboard.rpc("start_process", {"command": ["false"], "title": "Fails", "immediate": True})
    expect(stat(page, "failed")).to_have_text("1")
    dashboard.rpc("pause_queue")
    dashboard.rpc("start_process", {"command": ["true"], "title": "Waits"})
    expect(stat(page, "queued")).to_have_text("1", timeout=1000)
    expect(page.locator(".stat-note")).to_have_text("queue paused")
    dashboard.rpc("stop_process", {"process_id": running["id"], "force": True})
    expect(stat(page, "running")).to_have_text("0")


def test_the_page_reconnects_by_itself_after_the_server_restarts(page: Any, dashboard: Dashboard, guard: Guard) -> None:
    # While the server is down the browser itself logs the failed socket and /healthz attempts.
    guard.allow_console(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws' failed")
    guard.allow_console(r"Failed to load resource: net::ERR_CONNECTION_REFUSED")
    dashboard.rpc("record_issue", {"title": "Before the restart"})
    goto(page, dashboard, "#/issues")
    expect(page.locator(".card-link")).to_have_text(["Before the restart"])

    dashboard.stop()
    expect(page.locator("body")).to_have_attribute("data-connection", "reconnecting")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-text")).to_contain_text("Reconnecting…")
    expect(page.locator("#connection-text")).to_have_text("Reconnecting…")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "reconnecting-1440x900-light.png")

    dashboard.start()
    # Made while the page was still disconnected: the refresh after reconnecting shows it.
    dashboard.rpc("record_issue", {"title": "After the restart"})
    expect(page.locator("body")).to_have_attribute("data-connection", "open", timeout=15_000)
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator(".card-link")).to_have_text(["After the restart", "Before the restart"])
    # And it is subscribed again: live changes arrive.
    dashboard.rpc("record_issue", {"title": "Live again"})
    expect(page.locator(".card-link").first).to_have_text("Live again", timeout=1000)


def test_a_second_tab_sees_the_first_tabs_changes(browser: Any, page: Any, dashboard: Dashboard) -> None:
    from tests.dashboard.conftest import Guard as TabGuard
    from tests.dashboard.conftest import open_page

    other_guard = TabGuard(dashboard.origin)
    context, other = open_page(browser, dashboard, other_guard)
    try:
        goto(page, dashboard, "#/issues")
        goto(other, dashboard, "#/issues")
        page.get_by_role("button", name="New issue", exact=True).click()
        page.locator("dialog.issue-dialog").get_by_label("Title", exact=True).fill("From tab one")
        page.locator("dialog.issue-dialog").get_by_role("button", name="Create issue").click()
        expect(other.locator(".card-link")).to_have_text(["From tab one"], timeout=1000)
    finally:
        context.close()
    other_guard.check()
