"""Every view of the dashboard passes axe-core (WCAG 2 A and AA, 2.0 to 2.2, and axe's best practices), empty and
with data, in light and dark colours, at a desktop's size and at the tray's.

The views come from the registry the page loads (through the server's list, which tests/dashboard/test_views.py
holds equal to it), so a new view is checked without a line here. axe-core is the npm package pinned in
package-lock.json (`npm ci`, as `make lint` and `make test` run it), put into the page from node_modules: nothing
is fetched, and nothing of it ships.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from murmuration.operations.context import VIEWS
from tests.dashboard.conftest import Dashboard, goto, served
from tests.dashboard.test_agents import connected
from tests.dashboard.test_screenshots import seed

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's own best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
# Each route is checked in both colour schemes at a desktop size, and at the tray's embedded size, where the bar
# wraps and the type is smaller (colours do not change with size, so one scheme is enough there).
LOOKS = [("light", 1440, 900), ("dark", 1440, 900), ("light", 800, 600)]

# Counts the page's JSON-RPC calls still unanswered, so a check waits for a view to show what it loaded
# (whatever the view) rather than for a fixed time. Installed before the page's own scripts run.
WATCH_CALLS = """
(() => {
  const Native = window.WebSocket;
  const waiting = new Set();
  window.__rpcWaiting = () => waiting.size;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try {
          const message = JSON.parse(event.data);
          for (const item of Array.isArray(message) ? message : [message]) if ("id" in item) waiting.delete(item.id);
        } catch {}
      });
      this.addEventListener("close", () => waiting.clear());
    }
    send(data) {
      try {
        const message = JSON.parse(data);
        for (const item of Array.isArray(message) ? message : [message]) if ("id" in item) waiting.add(item.id);
      } catch {}
      return super.send(data);
    }
  };
})();
"""

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((node) => node.target.join(" ") + " — " + node.failureSummary.replace(/\\s+/g, " ")),
  }));
}"""

assert AXE.exists(), "axe-core is missing: run `npm ci` (make lint and make test do), which installs package-lock.json"


@pytest.fixture(scope="module", params=["empty", "full"])
def instance(
    request: pytest.FixtureRequest, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Dashboard, Any, dict[str, str]]]:
    """A served instance, empty or filled with every kind of thing a view shows, and a signed-in page on it.

    The page gets the axe-core script and the call counter; `items` maps a view to one of its items' ids.
    """
    home = tmp_path_factory.mktemp(f"a11y-{request.param}")
    with served(browser, home) as (dashboard, page):
        page.context.add_init_script(WATCH_CALLS)
        page.context.add_init_script(path=str(AXE))
        page.reload()
        items: dict[str, str] = {}
        with ExitStack() as agents:
            if request.param == "full":
                ids = seed(dashboard, home)
                items = {"processes": ids["process"], "knowledge": ids["fragment"], "issues": "ISSUE_1"}
                claude = agents.enter_context(connected(dashboard, "claude-code"))
                codex = agents.enter_context(connected(dashboard, "codex"))
                claude.call("claim_issue", {"issue_id": "ISSUE_1"})
                claude.call("reserve", {"resources": ["src/db/**"], "reason": "migrating"})
                codex.call("reserve", {"resources": ["docs/**"], "exclusive": False})
                with connected(dashboard, "gemini") as gone:
                    gone.call("claim_issue", {"issue_id": "ISSUE_2"})
            yield dashboard, page, items


def findings(page: Any, where: str) -> list[str]:
    """axe's findings on what the page shows now, in each look: one readable entry per rule."""
    found = []
    for scheme, width, height in LOOKS:
        # Without motion: a colour in the middle of its transition to the other scheme is no colour anyone reads.
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        page.set_viewport_size({"width": width, "height": height})
        for violation in page.evaluate(RUN_AXE, TAGS):
            targets = "\n      ".join(violation["targets"])
            found.append(
                f"{where} ({scheme}, {width}×{height}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']}\n      {targets}"
            )
    return found


def settled(page: Any) -> None:
    """Wait until every call the page made is answered (and so drawn)."""
    page.wait_for_function("() => window.__rpcWaiting() === 0")


def check(page: Any, dashboard: Dashboard, route: str, dialogs: set[str] | None = None) -> list[str]:
    """axe's findings on `route`, and on each dialog its buttons open (a button that asks first ends in "…") but
    those named in `dialogs`, the ones already checked (the same button on the view's item route)."""
    goto(page, dashboard, route)
    settled(page)
    found = findings(page, route)
    checked = set() if dialogs is None else dialogs
    openers = page.locator("main button:visible").filter(has_text=re.compile("…$"))
    for n in range(openers.count()):
        opener = openers.nth(n)
        name = opener.inner_text()
        if name in checked:
            continue
        checked.add(name)
        opener.click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        settled(page)
        found += findings(page, f"{route}, {name}")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
    return found


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_passes_axe(instance: tuple[Dashboard, Any, dict[str, str]], view: str) -> None:
    dashboard, page, items = instance
    route = "#/" if view == "overview" else f"#/{view}"
    dialogs: set[str] = set()
    found = check(page, dashboard, route, dialogs)
    if view in items:
        found += check(page, dashboard, f"#/{view}/{items[view]}", dialogs)
    assert not found, "axe-core found violations:\n" + "\n".join(found)


def test_the_shell_passes_axe_without_a_view(instance: tuple[Dashboard, Any, dict[str, str]]) -> None:
    """What shows around and instead of a view: the top bar in a narrow window (where it drops the instance's name),
    an unknown route, the question before signing out, and the sign-in notice."""
    dashboard, page, _ = instance
    page.set_viewport_size({"width": 640, "height": 600})
    try:
        found = check(page, dashboard, "#/")
    finally:
        page.set_viewport_size({"width": 1440, "height": 900})
    found += check(page, dashboard, "#/nowhere")
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.locator("dialog.confirm")).to_be_visible()
    found += findings(page, "the sign-out question")
    page.keyboard.press("Escape")
    expect(page.locator("dialog.confirm")).to_have_count(0)

    stranger = page.context.browser.new_context()
    try:
        stranger.add_init_script(path=str(AXE))
        notice = stranger.new_page()
        notice.goto(dashboard.url)
        expect(notice.locator("body.signin .signin-card")).to_be_visible()
        found += findings(notice, "the sign-in notice")
    finally:
        stranger.close()
    assert not found, "axe-core found violations:\n" + "\n".join(found)
