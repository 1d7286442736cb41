"""Knowledge: fragments by type, full-text search with highlights, links, create, edit, deep links."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, goto


def test_a_fragment_is_created_edited_and_found_by_search(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/knowledge")
    page.get_by_role("button", name="New fragment").click()
    form = page.locator("form.fragment-form")
    form.get_by_label("Title", exact=True).fill("Why the port stays the same")
    form.get_by_label("Type", exact=True).select_option("documentation")
    form.get_by_label("Body (markdown)", exact=True).fill("The server asks for its **last port** first.")
    form.get_by_label("Tags", exact=True).fill("ports")
    form.get_by_role("button", name="Create fragment").click()

    detail = page.locator("article.fragment")
    expect(detail.get_by_role("heading", level=2)).to_have_text("Why the port stays the same")
    expect(detail.locator(".fragment-body strong")).to_have_text("last port")
    fragment_id = detail.get_attribute("data-id")
    assert page.evaluate("location.hash") == f"#/knowledge/{fragment_id}"
    expect(page.locator(".chip[data-type='documentation'] .chip-count")).to_have_text("1")

    detail.get_by_role("button", name="Edit").click()
    page.locator("form.fragment-form").get_by_label("Status", exact=True).select_option("draft")
    page.locator("form.fragment-form").get_by_role("button", name="Save").click()
    expect(page.locator("article.fragment .badge.status-draft")).to_have_text("draft")
    stored = dashboard.rpc("get_fragment", {"id": fragment_id})
    assert (stored["status"], stored["tags"], stored["type"]) == ("draft", ["ports"], "documentation")

    page.get_by_label("Search knowledge (full text)").fill("last po")
    expect(page.locator(".fragment-list .snippet mark")).to_have_text(["last", "port"])


def test_fragments_filter_by_type_and_changes_elsewhere_appear(page: Any, dashboard: Dashboard) -> None:
    dashboard.rpc("record_fragment", {"title": "A question", "body": "Why?", "type": "question"})
    dashboard.rpc("record_fragment", {"title": "A note", "body": "Noted.", "type": "note"})
    goto(page, dashboard, "#/knowledge")
    titles = page.locator(".fragment-list .row-title")
    expect(titles).to_have_text(["A note", "A question"])
    page.locator(".chip[data-type='question']").click()
    expect(titles).to_have_text(["A question"])
    expect(page.locator(".chip[data-type='question']")).to_have_attribute("aria-pressed", "true")

    dashboard.rpc("record_fragment", {"title": "Another question", "body": "How?", "type": "question"})
    expect(titles).to_have_text(["Another question", "A question"], timeout=1000)
    expect(page.locator(".chip[data-type='question'] .chip-count")).to_have_text("2")


def test_a_deep_link_opens_the_fragment_with_its_links(page: Any, dashboard: Dashboard) -> None:
    question = dashboard.rpc("record_fragment", {"title": "How to restart?", "body": "Asking.", "type": "question"})
    answer = dashboard.rpc("record_fragment", {"title": "Stop, then start", "body": "Like so.", "type": "answer"})
    page.goto(question["web_url"])
    detail = page.locator("article.fragment")
    expect(detail.get_by_role("heading", level=2)).to_have_text("How to restart?")
    expect(page.locator(".link-list")).to_contain_text("No links yet.")

    dashboard.rpc("create_fragment_link", {"sourceId": answer["id"], "targetId": question["id"], "linkType": "answers"})
    row = page.locator(".link-row")
    expect(row).to_contain_text("answered by", timeout=1000)
    expect(row.locator("a")).to_have_text("Stop, then start")

    row.locator("a").click()
    expect(detail.get_by_role("heading", level=2)).to_have_text("Stop, then start")
    expect(page.locator(".link-row")).to_contain_text("answers")
    page.get_by_role("button", name="Remove the answers link").click()
    expect(page.locator(".link-list")).to_contain_text("No links yet.")
    assert dashboard.rpc("get_fragment_links", {"fragmentId": answer["id"]})["links"] == []


def test_a_link_is_added_from_the_detail_pane(page: Any, dashboard: Dashboard) -> None:
    first = dashboard.rpc("record_fragment", {"title": "First", "body": "One.", "type": "note"})
    dashboard.rpc("record_fragment", {"title": "Second", "body": "Two.", "type": "reference"})
    goto(page, dashboard, f"#/knowledge/{first['id']}")
    page.get_by_text("Link to another fragment").click()
    page.get_by_label("Fragment to link to", exact=True).select_option(label="Second (reference)")
    page.get_by_label("Link type").select_option("references")
    page.get_by_role("button", name="Add link").click()
    expect(page.locator(".link-row a")).to_have_text("Second")
    [link] = dashboard.rpc("get_fragment_links", {"fragmentId": first["id"]})["links"]
    assert link["link_type"] == "references"
