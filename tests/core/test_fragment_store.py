"""core/fragments.py on its own: Fragments over a real state.db — records, FTS5 search, links — no server.

tests/core/test_fragments.py drives the same code through the WebSocket API; a failure here points at core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from murmuration.core.errors import Conflict, Invalid, NotFound
from murmuration.core.events import EventBus
from murmuration.core.fragments import FragmentFilter, Fragments, match_expression
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store


@pytest.fixture
def events() -> EventBus:
    return EventBus()


@pytest.fixture
def fragments(tmp_path: Path, events: EventBus) -> Iterator[Fragments]:
    store = Store(tmp_path / "state.db", MIGRATIONS)
    try:
        yield Fragments(store, events)
    finally:
        store.close()


def note(fragments: Fragments, title: str, body: str = "Body.", **more: Any) -> dict[str, Any]:
    return fragments.record({"title": title, "body": body, "type": more.pop("type", "note"), **more})


def test_record_needs_a_title_a_body_and_a_type(fragments: Fragments) -> None:
    for missing in ("title", "body", "type"):
        values = {"title": "t", "body": "b", "type": "note"}
        del values[missing]
        with pytest.raises(Invalid) as refused:
            fragments.record(values)
        assert refused.value.field == missing


@pytest.mark.parametrize(
    ("values", "field"),
    [({"body": "   "}, "body"), ({"type": "rumour"}, "type"), ({"status": "gone"}, "status"), ({"title": ""}, "title")],
)
def test_record_refuses_a_bad_field_and_stores_nothing(
    fragments: Fragments, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        fragments.record({"title": "t", "body": "b", "type": "note", **values})
    assert refused.value.field == field
    assert fragments.query(FragmentFilter()) == ([], 0)


def test_record_then_get_gives_back_every_field(fragments: Fragments) -> None:
    made = note(fragments, "Title", "  The body.  ", tags=["x"], metadata={"k": 1}, priority="high")
    assert made["body"] == "The body."
    assert (made["tags"], made["metadata"], made["priority"], made["status"]) == (["x"], {"k": 1}, "high", "active")
    assert fragments.get(made["id"]) == made


def test_search_ranks_title_matches_first_and_marks_the_words(fragments: Fragments) -> None:
    in_body = note(fragments, "Unrelated", "We met a websocket timeout on start.")
    in_title = note(fragments, "Websocket timeout", "Seen twice.")
    found = fragments.search("websocket timeout")
    assert [f["fragment"]["id"] for f in found] == [in_title["id"], in_body["id"]]
    assert found[0]["score"] > found[1]["score"]
    assert "**websocket**" in found[1]["snippet"].lower()


def test_search_treats_operators_as_words_and_completes_the_last_one(fragments: Fragments) -> None:
    made = note(fragments, "Quoting", 'She said "NOT" OR AND near(x) webso')
    assert match_expression('"NOT" OR near(') == '"NOT" "OR" "near"*'
    assert [f["fragment"]["id"] for f in fragments.search("NOT OR near(")] == [made["id"]]
    assert [f["fragment"]["id"] for f in fragments.search("quot")] == [made["id"]]
    with pytest.raises(Invalid):
        fragments.search("!!! ???")


def test_search_follows_updates_and_deletes(fragments: Fragments) -> None:
    made = note(fragments, "Alpha", "first words")
    fragments.update(made["id"], {"body": "second words"})
    assert fragments.search("first") == []
    assert len(fragments.search("second")) == 1
    fragments.delete(made["id"])
    assert fragments.search("second") == []


def test_query_filters_before_it_limits(fragments: Fragments) -> None:
    for n in range(5):
        note(fragments, f"Q{n}", type="question" if n % 2 else "answer", tags=["t"] if n < 3 else [])
    found, total = fragments.query(FragmentFilter(type="question", limit=1))
    assert (len(found), total) == (1, 2)
    found, total = fragments.query(FragmentFilter(tags=("t",), type="answer"))
    assert sorted(f["title"] for f in found) == ["Q0", "Q2"]


def test_links_go_both_ways_refuse_duplicates_and_go_with_their_fragment(fragments: Fragments) -> None:
    question = note(fragments, "Why?", type="question")
    answer = note(fragments, "Because.", type="answer")
    link = fragments.link(answer["id"], question["id"], "answers", {"by": "me"})
    assert [(x["id"], x["direction"]) for x in fragments.links(question["id"])] == [(link["id"], "incoming")]
    assert [x["direction"] for x in fragments.links(answer["id"], "outgoing")] == ["outgoing"]
    assert fragments.links(answer["id"], "incoming") == []
    with pytest.raises(Conflict):
        fragments.link(answer["id"], question["id"], "answers")
    with pytest.raises(Invalid) as itself:
        fragments.link(answer["id"], answer["id"], "related")
    assert itself.value.field == "target_id"
    with pytest.raises(NotFound) as nowhere:
        fragments.link(answer["id"], "no-such-id", "related")
    assert nowhere.value.field == "target_id"
    assert fragments.delete(question["id"])["links_deleted"] == 1
    assert fragments.links(answer["id"]) == []
    with pytest.raises(NotFound):
        fragments.unlink(link["id"])


async def test_every_change_is_one_event(fragments: Fragments, events: EventBus) -> None:
    subscription = events.subscribe(["fragment", "fragment_link"])
    a = note(fragments, "A")
    b = note(fragments, "B")
    link = fragments.link(a["id"], b["id"], "related")
    fragments.unlink(link["id"])
    fragments.update(a["id"], {"title": "A2"})
    fragments.delete(a["id"])
    seen = [await asyncio.wait_for(subscription.next(), 5) for _ in range(6)]
    assert [(e["topic"], e["action"]) for e in seen] == [
        ("fragment", "created"),
        ("fragment", "created"),
        ("fragment_link", "created"),
        ("fragment_link", "deleted"),
        ("fragment", "updated"),
        ("fragment", "deleted"),
    ]
    assert seen[4]["fragment"]["title"] == "A2"
