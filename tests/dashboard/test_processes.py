"""Processes: start one from the form, watch its output stream in (colours, streams, search), stop it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto
from tests.waiting import until

# Prints a numbered line every 0.1 s (green "ok", and every third one on stderr), then keeps running.
TICKER = (
    "import sys, time\n"
    "for i in range(1, 31):\n"
    "    print(f'\\x1b[32mok\\x1b[0m line {i}', flush=True)\n"
    "    if i % 3 == 0: print(f'warn {i}', file=sys.stderr, flush=True)\n"
    "    time.sleep(0.1)\n"
    "time.sleep(60)\n"
)


def test_a_process_started_from_the_form_streams_its_output_and_stops(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    script = tmp_path / "ticker.py"
    script.write_text(TICKER)
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    dialog = page.locator("dialog.sheet[open]")
    dialog.get_by_label("One argument per line").check()
    dialog.locator("textarea[name=command]").fill(f"{sys.executable}\n-u\n{script}")
    expect(dialog.locator(".argv-preview li")).to_have_text([sys.executable, "-u", str(script)])
    dialog.get_by_label("Title", exact=True).fill("Ticker")
    dialog.get_by_label("Start now (skips the queue)").check()
    dialog.get_by_role("button", name="Start", exact=True).click()
    expect(dialog).to_have_count(0)

    # The dashboard opens the new process: its output streams in while it runs.
    expect(page.locator(".process-detail h2")).to_have_text("Ticker")
    log = page.locator(".log")
    expect(log.locator(".line", has_text="line 3")).to_be_visible()
    expect(log.locator(".line", has_text="line 12")).to_be_visible()
    expect(page.locator(".process-detail .badge")).to_have_text("running")
    # ANSI colours become classes; stderr and system lines are told apart.
    expect(log.locator(".line[data-stream='stdout'] .ansi-fg-2").first).to_have_text("ok")
    expect(log.locator(".line[data-stream='stderr']", has_text="warn 3")).to_be_visible()
    expect(log.locator(".line[data-stream='system']").first).to_contain_text("attempt 1")
    assert "\x1b" not in log.inner_text()

    process_id = page.evaluate("location.hash").rsplit("/", 1)[1]
    page.get_by_label("force").check()
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".process-detail .badge")).to_have_text("stopped")
    expect(page.locator(f".process-list li[data-id='{process_id}'] .badge")).to_have_text("stopped")
    assert dashboard.rpc("get_process_status", {"process_id": process_id})["state"] == "stopped"


def test_shell_style_commands_are_split_like_a_shell(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    dialog = page.locator("dialog.sheet[open]")
    dialog.locator("textarea[name=command]").fill("""printf '%s|' "two words" it\\'s 'a "b"'""")
    expect(dialog.locator(".argv-preview li")).to_have_text(["printf", "%s|", "two words", "it's", 'a "b"'])
    dialog.get_by_label("Start now (skips the queue)").check()
    dialog.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator(".log .line[data-stream='stdout'] .text")).to_have_text(["""two words|it's|a "b"|"""])
    [process] = dashboard.rpc("list_processes")["processes"]
    assert process["command"] == ["printf", "%s|", "two words", "it's", 'a "b"']


def test_an_unclosed_quote_is_refused_before_anything_starts(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    dialog = page.locator("dialog.sheet[open]")
    dialog.locator("textarea[name=command]").fill("echo 'oops")
    expect(dialog.locator(".hint[aria-live]")).to_have_text("A single quote is not closed.")
    dialog.get_by_role("button", name="Start", exact=True).click()
    expect(dialog.locator(".field-error")).to_have_text("A single quote is not closed.")
    assert dashboard.rpc("list_processes")["total"] == 0


def test_a_deep_link_opens_the_process_logs(page: Any, dashboard: Dashboard) -> None:
    process = dashboard.rpc(
        "start_process",
        {"command": [sys.executable, "-c", "print('hello from the deep link')"], "title": "Greeter", "immediate": True},
    )
    until(
        lambda: dashboard.rpc("get_process_status", {"process_id": process["id"]})["state"] == "stopped",
        "the process to be stopped",
    )
    assert process["web_url"].endswith(f"#/processes/{process['id']}")

    page.goto(process["web_url"])
    expect(page.locator(".process-detail h2")).to_have_text("Greeter")
    expect(page.locator(".log .line[data-stream='stdout'] .text")).to_have_text(["hello from the deep link"])
    expect(page.locator(f".process-list li.selected[data-id='{process['id']}']")).to_be_visible()


def test_log_search_highlights_matches_and_pause_holds_new_lines(page: Any, dashboard: Dashboard) -> None:
    process = dashboard.rpc(
        "start_process", {"command": [sys.executable, "-c", TICKER], "title": "T", "immediate": True}
    )
    goto(page, dashboard, f"#/processes/{process['id']}")
    log = page.locator(".log")
    expect(log.locator(".line", has_text="line 5")).to_be_visible()

    page.get_by_label("Search the log").fill("line 1")
    expect(log.locator("mark").first).to_have_text("line 1")
    expect(page.locator(".match-info")).to_contain_text("of")
    page.get_by_label("only matches").check()
    expect(log.locator(".line:visible", has_text="line 2")).to_have_count(0)

    page.get_by_role("button", name="Pause").click()
    shown = log.locator(".line").count()
    expect(page.locator(".log-follow button")).to_contain_text("new", timeout=5000)
    assert log.locator(".line").count() == shown
    page.locator(".log-follow button").click()
    expect(log.locator(".line", has_text="line 30")).to_be_attached(timeout=10_000)
    page.get_by_role("checkbox", name="stderr").uncheck()
    expect(log.locator(".line[data-stream='stderr']").first).to_be_hidden()
    dashboard.rpc("stop_process", {"process_id": process["id"], "force": True})


def test_a_queued_process_can_be_cancelled_from_its_page(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("pause_queue")
    process = dashboard.rpc("start_process", {"command": ["true"], "title": "Waiting"})
    goto(page, dashboard, f"#/processes/{process['id']}")
    expect(page.locator(".process-detail .badge")).to_have_text("queued")
    page.get_by_role("button", name="Cancel").click()
    page.locator("dialog.confirm").get_by_role("button", name="Cancel it").click()
    expect(page.locator(".process-detail .badge")).to_have_text("cancelled")


def test_a_shell_command_with_a_leased_port_shows_its_url_as_a_link(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    dialog = page.locator("dialog.sheet[open]")
    dialog.get_by_label("Run in the shell (pipes, variables, {port})").check()
    dialog.locator("textarea[name=command]").fill(
        f"echo serving on {{port}}; exec {sys.executable} -m http.server $PORT --bind 127.0.0.1"
    )
    dialog.get_by_label("Lease a free port (PORT=N, {port} in a shell command)").check()
    dialog.get_by_label("Restart").select_option("on-failure")
    dialog.get_by_label("Start now (skips the queue)").check()
    dialog.get_by_role("button", name="Start", exact=True).click()
    expect(dialog).to_have_count(0)

    [process] = dashboard.rpc("list_processes")["processes"]
    assert isinstance(process["command"], str)
    assert process["restart"] == "on-failure"
    port = process["port"]
    expect(page.locator(".log .line[data-stream='stdout'] .text").first).to_have_text(f"serving on {port}")
    link = page.locator(".fact-listening a")
    expect(link).to_have_text(f"http://127.0.0.1:{port}/")
    assert link.get_attribute("href") == f"http://127.0.0.1:{port}/"
    expect(page.locator(".process-row .row-command").first).to_contain_text("echo serving on {port}")
    dashboard.rpc("stop_process", {"process_id": process["id"], "force": True})
    expect(page.locator(".fact-listening")).to_have_count(0)


def test_a_progress_line_rewritten_with_carriage_returns_shows_its_last_state(page: Any, dashboard: Dashboard) -> None:
    process = dashboard.rpc("start_process", {"command": r"printf 'step 1\rstep 2\rdone\n'", "immediate": True})
    goto(page, dashboard, f"#/processes/{process['id']}")
    expect(page.locator(".log .line[data-stream='stdout'] .text")).to_have_text(["done"])


def test_the_form_suggests_the_python_on_path_and_stays_put_while_it_grows(page: Any, dashboard: Dashboard) -> None:
    python = dashboard.rpc("get_instance_info")["python"]
    assert python in ("python3", "python")  # this machine has one; the server tests cover the other cases
    goto(page, dashboard, "#/processes")
    page.get_by_role("button", name="Start process…").click()
    dialog = page.locator("dialog.sheet[open]")
    command = dialog.locator("textarea[name=command]")
    expect(command).to_have_attribute("placeholder", f"{python} -m http.server 8000")
    before = dialog.bounding_box()
    dialog.get_by_label("One argument per line").check()
    command.press_sequentially("\n".join(f"argument-{n}" for n in range(8)))
    expect(dialog.locator(".argv-preview li")).to_have_count(8)
    after = dialog.bounding_box()
    assert before is not None
    assert after is not None
    assert after["height"] > before["height"] + 50  # it grew while one typed...
    assert after["y"] == before["y"]  # ...downwards: its top, where one reads and types, did not move
