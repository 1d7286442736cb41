"""Knowledge fragments (core/fragments.py) through the real WebSocket API: the store, FTS5 search, links."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.contract import CONFLICT, INVALID_PARAMS, NOT_FOUND
from murmuration.server.lifecycle import RunningInstance

TYPES = ("question", "answer", "note", "documentation", "issue", "solution", "reference")


async def record(client: InstanceClient, title: str, body: str, type: str = "note", **params: Any) -> dict[str, Any]:
    fragment: dict[str, Any] = await client.call(
        "record_fragment", {"title": title, "body": body, "type": type, **params}
    )
    return fragment


async def refused(client: InstanceClient, method: str, params: dict[str, Any]) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    return caught.value


async def outcome(client: InstanceClient, method: str, params: dict[str, Any]) -> Any:
    """The result of a call, or the RpcError it was refused with."""
    try:
        return await client.call(method, params)
    except RpcError as error:
        return error


async def search(client: InstanceClient, query: str, **params: Any) -> list[dict[str, Any]]:
    result = await client.call("search_fragments", {"query": query, **params})
    hits: list[dict[str, Any]] = result["results"]
    return hits


async def link(client: InstanceClient, source: str, target: str, link_type: str = "related") -> dict[str, Any]:
    made: dict[str, Any] = await client.call(
        "create_fragment_link", {"sourceId": source, "targetId": target, "linkType": link_type}
    )
    return made


async def links_of(client: InstanceClient, fragment_id: str, **params: Any) -> list[dict[str, Any]]:
    result = await client.call("get_fragment_links", {"fragmentId": fragment_id, **params})
    links: list[dict[str, Any]] = result["links"]
    return links


# --- record, get, list, update, delete -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
async def test_every_type_can_be_recorded_and_read_back(
    instance: RunningInstance, client: InstanceClient, kind: str
) -> None:
    made = await record(
        client,
        "How do I stop a process?",
        "  Call stop_process.  ",
        kind,
        tags=["processes"],
        metadata={"source": "agent", "n": 1},
        relatedIds=["ISSUE_3"],
        priority="high",
    )
    assert made["type"] == kind
    assert made["body"] == "Call stop_process."
    assert (made["tags"], made["metadata"], made["related_ids"]) == (
        ["processes"],
        {"source": "agent", "n": 1},
        ["ISSUE_3"],
    )
    assert (made["priority"], made["status"]) == ("high", "active")
    assert made["web_url"] == f"{instance.url}#/knowledge/{made['id']}"
    assert await client.call("get_fragment", {"id": made["id"]}) == made


async def test_update_changes_only_the_fields_given(client: InstanceClient) -> None:
    made = await record(client, "Title", "First body", tags=["a"])
    updated = await client.call("update_fragment", {"id": made["id"], "body": "Second body", "status": "archived"})
    assert (updated["title"], updated["body"], updated["tags"], updated["status"]) == (
        "Title",
        "Second body",
        ["a"],
        "archived",
    )
    assert updated["created_at"] == made["created_at"]
    assert await client.call("get_fragment", {"id": made["id"]}) == updated


async def test_an_update_is_seen_by_search_at_once(client: InstanceClient) -> None:
    made = await record(client, "Caching", "uses memcached")
    await client.call("update_fragment", {"id": made["id"], "body": "uses redis now"})
    assert await search(client, "memcached") == []
    assert [h["fragment"]["id"] for h in await search(client, "redis")] == [made["id"]]


async def test_delete_removes_the_fragment_its_links_and_its_search_entry(client: InstanceClient) -> None:
    question = await record(client, "Why is the build slow?", "It takes minutes.", "question")
    answer = await record(client, "The cache is cold", "Warm the cache first.", "answer")
    other = await record(client, "Build notes", "Related reading.")
    await link(client, answer["id"], question["id"], "answers")
    await link(client, question["id"], other["id"], "related")
    await link(client, other["id"], answer["id"], "references")

    result = await client.call("delete_fragment", {"id": question["id"]})
    assert result["deleted"] == question["id"]
    assert result["links_deleted"] == 2
    error = await refused(client, "get_fragment", {"id": question["id"]})
    assert error.code == NOT_FOUND
    assert [x["target_id"] for x in await links_of(client, answer["id"], direction="outgoing")] == []
    assert [x["source_id"] for x in await links_of(client, other["id"], direction="incoming")] == []
    assert len(await links_of(client, other["id"])) == 1  # other → answer stays
    assert await search(client, "slow") == []
    again = await refused(client, "delete_fragment", {"id": question["id"]})
    assert again.code == NOT_FOUND
    assert again.data == {"field": "id"}


async def test_list_fragments_filters_before_it_limits(client: InstanceClient) -> None:
    for n in range(30):
        await record(client, f"note {n}", "body", "note", tags=["wanted"])
    for n in range(30):
        await record(client, f"question {n}", "body", "question", tags=["other"])
    by_type = await client.call("list_fragments", {"type": "note", "limit": 10})
    assert len(by_type["fragments"]) == 10
    assert all(f["type"] == "note" for f in by_type["fragments"])
    assert by_type["total"] == 30
    by_tag = await client.call("list_fragments", {"tags": ["wanted"], "limit": 7})
    assert len(by_tag["fragments"]) == 7
    assert by_tag["total"] == 30
    by_text = await client.call("list_fragments", {"search": "note 2", "limit": 5})
    assert by_text["total"] == 11  # note 2, note 20 … note 29
    assert len(by_text["fragments"]) == 5
    combined = await client.call("list_fragments", {"type": "question", "tags": ["wanted"]})
    assert combined["total"] == 0


async def test_list_fragments_tags_mean_all_of_them_and_search_is_literal(client: InstanceClient) -> None:
    await record(client, "a", "x", tags=["one"])
    await record(client, "ab", "x", tags=["one", "two"])
    await record(client, "100% sure", "x")
    await record(client, "snake_case", "x")
    assert [f["title"] for f in (await client.call("list_fragments", {"tags": ["one", "two"]}))["fragments"]] == ["ab"]
    assert [f["title"] for f in (await client.call("list_fragments", {"search": "%"}))["fragments"]] == ["100% sure"]
    assert [f["title"] for f in (await client.call("list_fragments", {"search": "_"}))["fragments"]] == ["snake_case"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"body": "b", "type": "note"}, "title"),
        ({"title": "t", "type": "note"}, "body"),
        ({"title": "t", "body": "b"}, "type"),
        ({"title": "t", "body": "b", "type": "memo"}, "type"),
        ({"title": "t", "body": "   ", "type": "note"}, "body"),
        ({"title": "t", "body": "", "type": "note"}, "body"),
        ({"title": "t", "body": "b", "type": "note", "status": "gone"}, "status"),
        ({"title": "t", "body": "b", "type": "note", "tags": ["a b"]}, "tags.0"),
        ({"title": "t", "body": "b", "type": "note", "id": "mine"}, "id"),
    ],
)
async def test_bad_fragments_are_refused_naming_the_field(
    client: InstanceClient, params: dict[str, Any], field: str
) -> None:
    error = await refused(client, "record_fragment", params)
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == field
    assert (await client.call("list_fragments"))["total"] == 0


# --- search --------------------------------------------------------------------------------------------------


async def test_search_ranks_title_matches_above_body_matches(client: InstanceClient) -> None:
    in_body = await record(client, "Storage notes", "We picked sqlite for its write-ahead log.")
    in_title = await record(client, "Why sqlite", "We needed one file and no server.")
    unrelated = await record(client, "Networking", "Ports and sockets.")
    hits = await search(client, "sqlite")
    ids = [h["fragment"]["id"] for h in hits]
    assert ids == [in_title["id"], in_body["id"]]
    assert unrelated["id"] not in ids
    assert hits[0]["score"] > hits[1]["score"] > 0
    assert all(h["web_url"].endswith(f"#/knowledge/{h['fragment']['id']}") for h in hits)


async def test_search_returns_snippets_with_the_matches_marked(client: InstanceClient) -> None:
    body = " ".join(["filler"] * 40 + ["the", "deadlock", "happens", "here"] + ["filler"] * 40)
    await record(client, "A long story", body)
    [hit] = await search(client, "deadlock")
    assert "**deadlock**" in hit["snippet"]
    assert len(hit["snippet"]) < len(body)
    result = await client.call("search_fragments", {"query": "deadlock"})
    assert result["query"] == "deadlock"
    assert result["web_url"].endswith("#/knowledge")


async def test_search_needs_every_word_the_last_one_may_be_a_prefix(client: InstanceClient) -> None:
    both = await record(client, "Queue retries", "Retries wait with exponential backoff.")
    await record(client, "Queue pause", "A paused queue starts nothing.")
    assert [h["fragment"]["id"] for h in await search(client, "queue backoff")] == [both["id"]]
    assert [h["fragment"]["id"] for h in await search(client, "queue expon")] == [both["id"]]
    assert len(await search(client, "queue")) == 2


async def test_search_by_type_and_limit(client: InstanceClient) -> None:
    for n in range(12):
        await record(client, f"socket note {n}", "socket details", "note")
    answer = await record(client, "socket answer", "socket details", "answer")
    assert [h["fragment"]["id"] for h in await search(client, "socket", type="answer")] == [answer["id"]]
    assert len(await search(client, "socket")) == 10
    assert len(await search(client, "socket", limit=50)) == 13


async def test_search_ignores_case_and_accents(client: InstanceClient) -> None:
    made = await record(client, "Café résumé", "Naïve approach.")
    assert [h["fragment"]["id"] for h in await search(client, "CAFE resume")] == [made["id"]]
    assert [h["fragment"]["id"] for h in await search(client, "naive")] == [made["id"]]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced',
        "sqlite*",
        "*sqlite",
        "NEAR(sqlite wal)",
        "NEAR(",
        "sqlite OR 1=1",
        "OR 1=1",
        "AND",
        "NOT sqlite",
        "title:sqlite",
        "body:x",
        "-sqlite",
        "sqlite -wal",
        "^sqlite",
        "{title body}: sqlite",
        "(sqlite",
        "sqlite)",
        "'; DROP TABLE fragments; --",
        "%",
        "_",
        "\\",
        "a_b",
        "日本語",
        "Ünïcödé",
        "emoji 😀",
        "İ",
        "x" * 500,
        " ".join(["word"] * 100),
    ],
)
async def test_search_with_query_syntax_or_sql_never_fails(client: InstanceClient, query: str) -> None:
    await record(client, "About sqlite", "The wal file. 日本語 テキスト. Ünïcödé. a_b. 100% done.")
    answer = await outcome(client, "search_fragments", {"query": query})
    if isinstance(answer, RpcError):
        # Only an input without a single letter or digit may be refused, and then as bad params naming `query`.
        assert not any(ch.isalnum() for ch in query), answer.message
        assert (answer.code, answer.data["field"]) == (INVALID_PARAMS, "query")
    else:
        assert isinstance(answer["results"], list)
    assert (await client.call("list_fragments"))["total"] == 1  # nothing was dropped


@pytest.mark.parametrize("query", ["", " ", "*", '"', "-", "()", "!!!", "***", "😀", "\u0301"])
async def test_search_without_any_word_is_refused_naming_query(client: InstanceClient, query: str) -> None:
    error = await refused(client, "search_fragments", {"query": query})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "query"


async def test_search_of_words_that_match_nothing_is_empty(client: InstanceClient) -> None:
    await record(client, "Something", "else")
    assert await search(client, "absent words") == []
    assert await search(client, "OR 1=1") == []
    assert await search(client, "title:x") == []


# --- links ---------------------------------------------------------------------------------------------------


async def test_a_link_is_created_and_seen_from_both_ends(client: InstanceClient) -> None:
    question = await record(client, "Q", "?", "question")
    answer = await record(client, "A", "!", "answer")
    made = await link(client, answer["id"], question["id"], "answers")
    assert (made["source_id"], made["target_id"], made["link_type"]) == (answer["id"], question["id"], "answers")
    assert made["id"] == f"link_{answer['id']}_{question['id']}_answers"
    assert "web_url" in made

    [outgoing] = await links_of(client, answer["id"], direction="outgoing")
    assert (outgoing["id"], outgoing["direction"]) == (made["id"], "outgoing")
    assert await links_of(client, answer["id"], direction="incoming") == []
    [incoming] = await links_of(client, question["id"], direction="incoming")
    assert (incoming["id"], incoming["direction"]) == (made["id"], "incoming")
    assert await links_of(client, question["id"], direction="outgoing") == []
    assert [x["id"] for x in await links_of(client, question["id"])] == [made["id"]]


async def test_links_filter_by_direction_and_type(client: InstanceClient) -> None:
    hub = await record(client, "Hub", "centre")
    spokes = [await record(client, f"Spoke {n}", "edge") for n in range(4)]
    await link(client, hub["id"], spokes[0]["id"], "references")
    await link(client, hub["id"], spokes[1]["id"], "related")
    await link(client, spokes[2]["id"], hub["id"], "supersedes")
    await link(client, spokes[3]["id"], hub["id"], "related")
    assert len(await links_of(client, hub["id"])) == 4
    assert {x["target_id"] for x in await links_of(client, hub["id"], direction="outgoing")} == {
        spokes[0]["id"],
        spokes[1]["id"],
    }
    assert {x["source_id"] for x in await links_of(client, hub["id"], direction="incoming")} == {
        spokes[2]["id"],
        spokes[3]["id"],
    }
    related = await links_of(client, hub["id"], linkType="related")
    assert {x["direction"] for x in related} == {"outgoing", "incoming"}
    assert len(await links_of(client, hub["id"], direction="incoming", linkType="related")) == 1
    assert len(await links_of(client, hub["id"], limit=3)) == 3


async def test_a_duplicate_link_is_a_conflict(client: InstanceClient) -> None:
    first = await record(client, "One", "1")
    second = await record(client, "Two", "2")
    await link(client, first["id"], second["id"], "related")
    error = await refused(
        client, "create_fragment_link", {"sourceId": first["id"], "targetId": second["id"], "linkType": "related"}
    )
    assert error.code == CONFLICT
    assert "already exists" in error.message
    # another type, or the other direction, is another link
    await link(client, first["id"], second["id"], "references")
    await link(client, second["id"], first["id"], "related")
    assert len(await links_of(client, first["id"])) == 3


async def test_a_fragment_cannot_link_to_itself(client: InstanceClient) -> None:
    only = await record(client, "Alone", "x")
    error = await refused(
        client, "create_fragment_link", {"sourceId": only["id"], "targetId": only["id"], "linkType": "related"}
    )
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "target_id"
    assert await links_of(client, only["id"]) == []


@pytest.mark.parametrize("missing", ["source_id", "target_id"])
async def test_a_link_to_an_unknown_fragment_is_not_found_naming_the_field(
    client: InstanceClient, missing: str
) -> None:
    known = await record(client, "Known", "x")
    params = {"source_id": known["id"], "target_id": known["id"], "link_type": "related", missing: "no-such-fragment"}
    error = await refused(client, "create_fragment_link", params)
    assert error.code == NOT_FOUND
    assert error.data == {"field": missing}
    assert await links_of(client, known["id"]) == []


async def test_links_of_an_unknown_fragment_is_not_found_naming_fragment_id(client: InstanceClient) -> None:
    error = await refused(client, "get_fragment_links", {"fragmentId": "no-such-fragment"})
    assert error.code == NOT_FOUND
    assert error.data == {"field": "fragment_id"}


async def test_deleting_a_link(client: InstanceClient) -> None:
    first = await record(client, "One", "1")
    second = await record(client, "Two", "2")
    made = await link(client, first["id"], second["id"], "supersedes")
    answer = await client.call("delete_fragment_link", {"linkId": made["id"]})
    assert answer["deleted"] == made["id"]
    assert await links_of(client, first["id"]) == []
    error = await refused(client, "delete_fragment_link", {"linkId": made["id"]})
    assert error.code == NOT_FOUND
    assert error.data == {"field": "link_id"}
    assert (await client.call("get_fragment", {"id": first["id"]}))["title"] == "One"  # fragments stay


async def test_a_bad_link_type_or_direction_is_refused(client: InstanceClient) -> None:
    first = await record(client, "One", "1")
    second = await record(client, "Two", "2")
    error = await refused(
        client, "create_fragment_link", {"sourceId": first["id"], "targetId": second["id"], "linkType": "likes"}
    )
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "link_type")
    error = await refused(client, "get_fragment_links", {"fragmentId": first["id"], "direction": "sideways"})
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "direction")


# --- events --------------------------------------------------------------------------------------------------


async def test_every_fragment_and_link_change_sends_an_event(instance: RunningInstance, client: InstanceClient) -> None:
    async with await InstanceClient.connect(instance.url, instance.token) as watcher:
        await watcher.subscribe(["fragment", "fragment_link"])
        first = await record(client, "One", "1")
        second = await record(client, "Two", "2")
        await client.call("update_fragment", {"id": first["id"], "title": "One again"})
        made = await link(client, first["id"], second["id"])
        await client.call("delete_fragment_link", {"linkId": made["id"]})
        await client.call("delete_fragment", {"id": second["id"]})
        seen = []
        for _ in range(6):
            event = await asyncio.wait_for(watcher.next_event(), 10)
            seen.append((event["topic"], event["action"], event["id"]))
        assert seen == [
            ("fragment", "created", first["id"]),
            ("fragment", "created", second["id"]),
            ("fragment", "updated", first["id"]),
            ("fragment_link", "created", made["id"]),
            ("fragment_link", "deleted", made["id"]),
            ("fragment", "deleted", second["id"]),
        ]
