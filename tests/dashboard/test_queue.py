"""The queue view: pause and resume, what waits stays waiting, cancel, settings that apply."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto
from tests.waiting import until


def test_a_paused_queue_keeps_its_entries_queued_until_resumed(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/queue")
    page.get_by_role("button", name="Pause queue").click()
    expect(page.get_by_test_id("queue-state")).to_contain_text("Paused")
    assert dashboard.rpc("get_queue_status")["paused"] is True

    process = dashboard.rpc("start_process", {"command": ["true"], "title": "Held back"})
    entry = page.locator(f"li.entry[data-id='{process['id']}']")
    expect(entry).to_be_visible(timeout=1000)
    expect(entry.locator(".badge").first).to_have_text("queued")
    # The server has had its chance to start it (a paused queue starts nothing over time either:
    # tests/operations/test_process_operations.py's fault 2 watches for that).
    assert dashboard.rpc("get_process_status", {"process_id": process["id"]})["state"] == "queued"
    expect(entry.locator(".badge").first).to_have_text("queued")

    page.get_by_role("button", name="Resume queue").click()
    expect(page.get_by_test_id("queue-state")).to_have_text("Running")
    until(
        lambda: dashboard.rpc("get_process_status", {"process_id": process["id"]})["state"] == "stopped",
        "the process to be stopped",
    )
    expect(entry).to_have_count(0)


def test_a_queued_entry_is_cancelled_from_the_queue(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("pause_queue")
    process = dashboard.rpc("start_process", {"command": ["true"], "title": "Never mind", "priority": 9})
    goto(page, dashboard, "#/queue")
    expect(page.get_by_test_id("queue-state")).to_contain_text("Paused")
    page.get_by_role("button", name="Cancel Never mind").click()
    expect(page.locator(f"li.entry[data-id='{process['id']}']")).to_have_count(0)
    assert dashboard.rpc("get_process_status", {"process_id": process["id"]})["state"] == "cancelled"


def test_settings_are_saved_and_changes_elsewhere_show_up(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/queue")
    expect(page.get_by_label("Run at most")).to_have_value("5")
    page.get_by_label("Run at most").fill("2")
    page.get_by_label("Retry up to").fill("5")
    page.get_by_label("Also retry processes that exit with an error").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").filter(has_text="Queue settings saved")).to_be_visible()
    config = dashboard.rpc("get_queue_status")["config"]
    assert (config["max_concurrent"], config["max_retries"], config["retry_on_exit"]) == (2, 5, True)

    dashboard.rpc("set_queue_config", {"max_queue_size": 77})
    expect(page.get_by_label("Queue at most")).to_have_value("77", timeout=1000)

    page.get_by_label("Run at most").fill("99")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".config-form .field-error")).to_contain_text("between 1 and 50")
    assert dashboard.rpc("get_queue_status")["config"]["max_concurrent"] == 2


def test_a_failing_process_shows_its_retries_and_next_attempt(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("set_queue_config", {"retry_on_exit": True, "max_retries": 3, "retry_delay_ms": 60_000})
    process = dashboard.rpc("start_process", {"command": ["false"], "title": "Flaky"})
    goto(page, dashboard, "#/queue")
    entry = page.locator(f"li.entry[data-id='{process['id']}']")
    retrying = page.locator("section.entries", has=page.get_by_role("heading", name="Waiting to retry"))
    expect(retrying.locator(f"li.entry[data-id='{process['id']}']")).to_be_visible()
    expect(entry.locator(".retry-info")).to_contain_text("attempt 2 of 4")
    expect(entry.locator(".retry-info time")).to_have_text(re.compile(r"in (1 minute|[1-6]\d seconds)"))
    expect(entry.locator(".entry-error")).to_have_text("exited with code 1")
