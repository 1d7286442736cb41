"""Hostile content renders as text everywhere it is shown, and nothing leaves the machine.

The page fixture's guard already fails a test on any dialog, page error, console error or request to another
host; these tests put hostile titles and bodies in every place that shows content and check the DOM as well.
"""

from __future__ import annotations

import contextlib
from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, Guard, goto

TITLE = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
BODY = "\n\n".join(
    [
        "<script>alert(2)</script>",
        "<img src=x onerror=alert(3)>",
        "[x](javascript:alert(4)) and [y](JaVaScRiPt:alert(5)) and [z]( javascript:alert(6))",
        "![pic](javascript:alert(7)) <svg onload=alert(8)> <iframe src=javascript:alert(9)></iframe>",
        '<a href="javascript:alert(10)">a link in HTML</a> <javascript:alert(11)>',
        "[data](data:text/html,<script>alert(12)</script>) [rel](/ws) [ok](https://example.com/ok)",
        "`<b>code</b>` and **<i>bold</i>**",
        "```\n<script>alert(13)</script>\n```",
    ]
)

# Everything the DOM must not hold: elements that load or run, handler attributes, unsafe link targets.
DOM_CHECK = """() => {
  const bad = [];
  const content = document.querySelectorAll("main *, dialog *");
  for (const el of content) {
    const tag = el.tagName.toLowerCase();
    if (["script", "img", "svg", "iframe", "object", "embed", "style", "link", "base"].includes(tag)) bad.push(tag);
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on")) bad.push(`${tag}[${attr.name}]`);
    }
  }
  for (const el of document.querySelectorAll("[href], [src], [action], [formaction]")) {
    for (const name of ["href", "src", "action", "formaction"]) {
      const value = (el.getAttribute(name) || "").trim().toLowerCase();
      if (value.startsWith("javascript:") || value.startsWith("data:") || value.startsWith("vbscript:")) {
        bad.push(`${el.tagName.toLowerCase()}[${name}=${value}]`);
      }
    }
  }
  const links = [...document.querySelectorAll("main a[href^='http'], dialog a[href^='http']")].map((a) => a.href);
  return { bad, links, scripts: document.scripts.length };
}"""


def assert_inert(page: Any) -> None:
    found = page.evaluate(DOM_CHECK)
    assert found["bad"] == []
    assert found["scripts"] == 1  # the dashboard's own module, nothing else


def seed(dashboard: Dashboard) -> tuple[dict[str, Any], dict[str, Any]]:
    issue = dashboard.rpc("record_issue", {"title": TITLE, "content": BODY, "tags": ["xss"]})
    fragment = dashboard.rpc("record_fragment", {"title": TITLE, "body": BODY + "\n\nalert marker", "type": "note"})
    other = dashboard.rpc("record_fragment", {"title": TITLE + " 2", "body": "the other side", "type": "answer"})
    dashboard.rpc("create_fragment_link", {"sourceId": other["id"], "targetId": fragment["id"], "linkType": "answers"})
    dashboard.rpc("set_milestone", {"title": TITLE, "description": BODY[:1900], "relatedIssues": [issue["id"]]})
    dashboard.rpc("start_process", {"command": ["echo", TITLE], "title": TITLE, "immediate": True})
    return issue, fragment


def test_hostile_issues_and_fragments_render_as_text(page: Any, dashboard: Dashboard, guard: Guard) -> None:
    issue, fragment = seed(dashboard)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    goto(page, dashboard, "#/")
    expect(page.locator(".milestone-title")).to_have_text(TITLE)
    expect(page.locator(".milestone-body .markdown")).to_contain_text("<script>alert(2)</script>")
    assert_inert(page)

    goto(page, dashboard, "#/issues")
    expect(page.locator(f"li[data-id='{issue['id']}'] .card-link")).to_have_text(TITLE)
    assert_inert(page)

    goto(page, dashboard, f"#/issues/{issue['id']}")
    dialog = page.locator("dialog.issue-dialog")
    expect(dialog.get_by_role("heading", level=2)).to_have_text(TITLE)
    content = dialog.locator(".issue-content")
    expect(content).to_contain_text("<img src=x onerror=alert(3)>")
    expect(content).to_contain_text("[x](javascript:alert(4))")
    expect(content.locator("pre code")).to_have_text("<script>alert(13)</script>")
    expect(content.locator("a")).to_have_count(1)
    expect(content.locator("a")).to_have_attribute("href", "https://example.com/ok")
    assert_inert(page)
    dialog.get_by_role("button", name="Edit").click()
    dialog.get_by_role("button", name="Preview").click()
    expect(dialog.locator(".preview")).to_contain_text("<svg onload=alert(8)>")
    assert_inert(page)
    page.keyboard.press("Escape")
    # The dialog's close event (which routes back to the board) comes a task later: wait for it, or it can land
    # after the next navigation and take the page back to #/issues.
    expect(dialog).not_to_be_attached()

    goto(page, dashboard, f"#/knowledge/{fragment['id']}")
    detail = page.locator("article.fragment")
    expect(detail.get_by_role("heading", level=2)).to_have_text(TITLE)
    expect(detail.locator(".fragment-body")).to_contain_text('<a href="javascript:alert(10)">a link in HTML</a>')
    expect(page.locator(".link-row a")).to_have_text(TITLE + " 2")
    assert_inert(page)

    page.get_by_label("Search knowledge (full text)").fill("alert marker")
    snippet = page.locator(f".fragment-list li[data-id='{fragment['id']}'] .snippet")
    expect(snippet.locator("mark", has_text="marker")).to_be_visible()
    # Only the query's words are marked; the body's own **…** stays text.
    assert {m.lower() for m in snippet.locator("mark").all_inner_texts()} == {"alert", "marker"}
    assert_inert(page)

    goto(page, dashboard, "#/processes")
    expect(page.locator(".process-row .row-title").first).to_have_text(TITLE)
    page.locator(".process-row").first.click()
    expect(page.locator(".log .line[data-stream='stdout'] .text")).to_have_text([TITLE])
    assert_inert(page)

    # `<img src=x>` never became an image: nothing asked for /x.
    assert not [url for url in requested if url.rstrip("/").endswith("/x")]
    guard.check()


def test_no_request_leaves_the_machine_on_any_view(page: Any, dashboard: Dashboard, guard: Guard) -> None:
    seed(dashboard)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for route in ["#/", "#/processes", "#/queue", "#/issues", "#/knowledge"]:
        goto(page, dashboard, route)
        page.wait_for_load_state("networkidle")
    assert requested
    assert all(url.startswith(dashboard.origin) for url in requested), requested
    guard.check()

    # The guard is not blind: a request to another host is caught (and refused).
    with contextlib.suppress(Exception):
        page.goto("http://192.0.2.1/")
    assert guard.foreign == ["http://192.0.2.1/"]
    guard.foreign.clear()


def test_the_signin_notice_shows_without_a_session_and_no_socket_opens(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(dashboard.url)
        expect(page.get_by_role("heading", name="Murmuration")).to_be_visible()
        expect(page.locator("code")).to_have_text("murmuration url NAME --login")
        expect(page.locator("body")).to_have_class("signin")
        assert page.evaluate("document.body.dataset.connection") == "signed-out"
        assert sockets == []
    finally:
        context.close()
