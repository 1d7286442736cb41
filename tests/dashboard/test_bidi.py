"""Bidi controls in titles and names (js/dom.js `userText`, `isolate`): shown isolated, so they reorder nothing.

A title holding U+202E (RIGHT-TO-LEFT OVERRIDE) would otherwise lay out everything after it right to left,
up to the end of the line: a sentence "Delete ISSUE_1 “evil‮plain” for good?" would read with its end turned
around. The check is on the layout Chromium computed, not on the text: where each piece landed on the screen.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto

RLO = "\u202e"
TITLE = f"evil{RLO}plain"

# The screen boxes of the first occurrence of each piece in `element`'s text, measured with Ranges.
BOXES = """(element, pieces) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
  return pieces.map((piece) => {
    for (const node of nodes) {
      const at = node.data.indexOf(piece);
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + piece.length);
      const box = range.getBoundingClientRect();
      return { left: box.left, right: box.right, top: box.top };
    }
    return null;
  });
}"""


def boxes(element: Any, *pieces: str) -> list[dict[str, float]]:
    found = element.evaluate(BOXES, list(pieces))
    assert all(found), f"not all of {pieces} are in {element.inner_text()!r}"
    return list(found)


def assert_in_reading_order(element: Any, *pieces: str) -> None:
    """Each piece sits to the right of the one before it on the same line, as left-to-right text must."""
    laid_out = boxes(element, *pieces)
    for i in range(1, len(pieces)):
        (before, a), (after, b) = (pieces[i - 1], laid_out[i - 1]), (pieces[i], laid_out[i])
        assert abs(a["top"] - b["top"]) < 2, f"{before!r} and {after!r} are on different lines"
        assert b["left"] >= a["right"] - 1, f"{after!r} was laid out before {before!r}: {laid_out}"


def test_an_override_in_a_title_cannot_reorder_the_sentence_around_it(page: Any, dashboard: Dashboard) -> None:
    issue = dashboard.rpc("record_issue", {"title": TITLE})
    goto(page, dashboard, f"#/issues/{issue['id']}")
    page.locator("dialog.issue-dialog").get_by_role("button", name="Delete", exact=True).click()
    question = page.locator("dialog.confirm p")
    expect(question).to_contain_text("for good?")
    # Overridden, "plain” for good?" would be laid out reversed right after "evil": "for good?" before "plain".
    assert_in_reading_order(question, "Delete ISSUE_1", "evil", "plain", "for good?")


def test_an_override_in_a_card_title_stays_inside_the_card_title(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("record_issue", {"title": TITLE, "tags": ["after"]})
    goto(page, dashboard, "#/issues")
    card = page.locator("li.issue-card")
    expect(card).to_be_visible()
    title = card.locator("bdi")
    expect(title).to_have_text(TITLE)
    # Isolated with a direction of its own: nothing outside the <bdi> takes its override.
    assert title.evaluate("(el) => getComputedStyle(el).unicodeBidi") == "isolate"
