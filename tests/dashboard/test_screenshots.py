"""Every view at the tray's 800×600 and at 1440×900, light and dark: saved for people to look at, and
checked for what a machine can see — nothing wider than the window, every view filled in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import ARTIFACTS, Dashboard, Guard, goto, open_page
from tests.waiting import until

SIZES = [(800, 600), (1440, 900)]
SCHEMES = ["light", "dark"]
COLOURFUL = (
    "import sys, time\n"
    "for i in range(1, 41):\n"
    "    print(f'\\x1b[2m12:00:{i:02d}\\x1b[0m \\x1b[32mINFO\\x1b[0m request {i} served in '\n"
    "          f'\\x1b[1m{i * 3} ms\\x1b[0m')\n"
    "    if i % 7 == 0: print(f'\\x1b[33mWARN\\x1b[0m slow disk on request {i}', file=sys.stderr)\n"
    "    if i % 13 == 0: print(f'\\x1b[31;1mERROR\\x1b[0m request {i} failed: timeout', file=sys.stderr)\n"
    "sys.stdout.flush(); sys.stderr.flush()\n"
    "time.sleep(120)\n"
)


def seed(dashboard: Dashboard, tmp_path: Path) -> dict[str, str]:
    issues = [
        ("Dashboard: kanban drag and drop", "in-progress", "high", ["dashboard", "ui"]),
        ("Tray icon is blurry on HiDPI screens", "open", "medium", ["tray", "ui"]),
        ("Queue: retries should back off exponentially", "completed", "high", ["queue"]),
        ("Import the original .knowledge folder", "completed", "medium", ["import"]),
        ("Windows: job objects for process groups", "open", "high", ["windows", "processes"]),
        ("Document the MCP configuration for agents", "open", "low", ["docs"]),
        ("Port storm test is slow on CI", "in-progress", "low", ["test"]),
        ("Old idea: a chart of queue length over time", "archived", "low", []),
        (
            "A title long enough to wrap over several lines on a narrow card in the embedded tray view",
            "open",
            "medium",
            [],
        ),
    ]
    for title, status, priority, tags in issues:
        dashboard.rpc(
            "record_issue",
            {
                "title": title,
                "status": status,
                "priority": priority,
                "tags": tags,
                "content": "## What\n\nThe card should move with **drag and drop** and with `Alt+→`.\n\n"
                "- [x] columns\n- [ ] keyboard\n\nSee [the design](https://example.com/design).",
            },
        )
    dashboard.rpc(
        "set_milestone",
        {
            "title": "Dashboard v1",
            "description": "Every view live, usable at **800×600**, safe with hostile content.",
            "progress": 65,
            "targetDate": "2026-12-31",
            "relatedIssues": ["ISSUE_1", "ISSUE_2"],
        },
    )
    question = dashboard.rpc(
        "record_fragment",
        {
            "title": "How do agents find the instance?",
            "body": "Through `murmuration mcp`.",
            "type": "question",
            "tags": ["mcp"],
        },
    )
    answer = dashboard.rpc(
        "record_fragment",
        {
            "title": "The MCP bridge reads runtime.json",
            "body": "## How\n\nThe bridge reads the **runtime file** of the data folder, then connects with the "
            'token.\n\n```json\n{"port": 20000}\n```',
            "type": "answer",
            "tags": ["mcp", "ports"],
        },
    )
    dashboard.rpc(
        "record_fragment",
        {"title": "Ports are leased, never guessed", "body": "A port is won by binding.", "type": "documentation"},
    )
    dashboard.rpc("create_fragment_link", {"sourceId": answer["id"], "targetId": question["id"], "linkType": "answers"})

    script = tmp_path / "server_log.py"
    script.write_text(COLOURFUL)
    running = dashboard.rpc(
        "start_process",
        {"command": [sys.executable, "-u", str(script)], "title": "Web server", "immediate": True, "priority": 7},
    )
    dashboard.rpc("start_process", {"command": ["false"], "title": "Lint (fails)", "immediate": True})
    dashboard.rpc("start_process", {"command": ["true"], "title": "Quick check", "immediate": True})
    dashboard.rpc("set_queue_config", {"retry_on_exit": True, "retry_delay_ms": 120_000})
    dashboard.rpc("start_process", {"command": ["false"], "title": "Flaky integration test", "priority": 6})
    until(lambda: dashboard.rpc("get_queue_status")["waiting_retry"] == 1, "one process waiting to retry")
    dashboard.rpc("pause_queue")
    for n, priority in enumerate([8, 5, 3]):
        dashboard.rpc(
            "start_process",
            {"command": ["sh", "-c", f"make target-{n}"], "title": f"Build target {n}", "priority": priority},
        )
    until(
        lambda: len(dashboard.rpc("get_process_logs", {"process_id": running["id"]})["lines"]) > 40,
        "40 lines of output",
    )
    return {"process": running["id"], "fragment": answer["id"]}


@pytest.mark.timeout(300)
def test_screenshots_of_every_view(browser: Any, dashboard: Dashboard, tmp_path: Path) -> None:
    ids = seed(dashboard, tmp_path)
    views = {
        "overview": "#/",
        "processes": f"#/processes/{ids['process']}",
        "queue": "#/queue",
        "issues": "#/issues",
        "issue": "#/issues/ISSUE_1",
        "knowledge": f"#/knowledge/{ids['fragment']}",
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in SCHEMES:
        for width, height in SIZES:
            guard = Guard(dashboard.origin)
            context, page = open_page(
                browser, dashboard, guard, viewport={"width": width, "height": height}, color_scheme=scheme
            )
            try:
                for name, route in views.items():
                    goto(page, dashboard, route)
                    ready(page, name)
                    overflow = page.evaluate(
                        "() => [document.documentElement.scrollWidth - innerWidth,"
                        " document.querySelector('main').scrollWidth - document.querySelector('main').clientWidth]"
                    )
                    assert overflow == [0, 0], f"{name} at {width}×{height} is wider than the window: {overflow}"
                    page.screenshot(path=ARTIFACTS / f"{name}-{width}x{height}-{scheme}.png", animations="disabled")
                extra_shots(page, dashboard, f"{width}x{height}-{scheme}")
            finally:
                context.close()
            guard.check()


def ready(page: Any, name: str) -> None:
    """Wait until a view shows its data (not its loading state)."""
    if name == "overview":
        expect(page.locator(".milestone-title")).to_have_text("Dashboard v1")
        expect(page.locator(".recent-list li")).to_have_count(6)
    elif name == "processes":
        expect(page.locator(".log .line", has_text="request 40")).to_be_attached()
    elif name == "queue":
        expect(page.locator(".entry")).to_have_count(5)
    elif name == "issues":
        expect(page.locator(".issue-card")).to_have_count(9)
    elif name == "issue":
        expect(page.locator("dialog.issue-dialog .markdown h3")).to_have_text("What")
    elif name == "knowledge":
        expect(page.locator(".link-row")).to_have_count(1)
    page.evaluate("document.activeElement && document.activeElement.blur()")


def extra_shots(page: Any, dashboard: Dashboard, suffix: str) -> None:
    """The start form, a knowledge search, and a focused card (the keyboard's view)."""
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    page.locator("dialog.sheet textarea[name=command]").fill("python -m http.server 'my port'")
    page.screenshot(path=ARTIFACTS / f"start-process-{suffix}.png", animations="disabled")
    page.keyboard.press("Escape")
    goto(page, dashboard, "#/knowledge")
    page.get_by_label("Search knowledge (full text)").fill("runtime")
    expect(page.locator(".snippet mark").first).to_be_visible()
    page.screenshot(path=ARTIFACTS / f"knowledge-search-{suffix}.png", animations="disabled")
    goto(page, dashboard, "#/issues")
    expect(page.locator(".issue-card")).to_have_count(9)
    page.keyboard.press("Tab")
    page.locator(".issue-card .card-link").first.focus()
    page.screenshot(path=ARTIFACTS / f"issues-focus-{suffix}.png", animations="disabled")
