"""The jobs an operation took over from others so that tools/list shows one tool per job, over a real socket:
each does what the operation it absorbed did, refuses a parameter that would mean nothing beside another, and
changes nothing when it refuses."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.contract import INVALID_PARAMS, NOT_FOUND
from tests.operations.conftest import Connect, refused

PRINTS = [sys.executable, "-c", "print('tests passed', flush=True)"]


async def fragment(client: InstanceClient, title: str, body: str, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(
        "record_fragment", {"title": title, "body": body, "type": "note", **fields}
    )
    return result


async def test_get_instance_info_adds_the_sections_asked_for(client: InstanceClient) -> None:
    plain = await client.call("get_instance_info")
    assert not {"milestone", "agents", "reservations", "queue"} & set(plain)
    await client.call("set_milestone", {"title": "Beta"})
    full = await client.call("get_instance_info", {"include": ["milestone", "agents", "reservations", "queue"]})
    assert full["milestone"]["title"] == "Beta"
    assert [(a["name"], a["you"]) for a in full["agents"]] == [("client", True)]
    assert (full["left"], full["reservations"]) == ([], [])
    assert full["queue"] == {k: v for k, v in (await client.call("get_queue_status")).items() if k in full["queue"]}
    error = await refused(client, "get_instance_info", {"include": ["everything"]})
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "include.0")


async def test_list_issues_by_ids_gives_them_whole_in_order_and_names_an_unknown_one(client: InstanceClient) -> None:
    first = await client.call("record_issue", {"title": "First", "content": "x" * 500})
    second = await client.call("record_issue", {"title": "Second"})
    listed = await client.call("list_issues", {"ids": [second["id"], first["id"], second["id"]]})
    assert [i["id"] for i in listed["issues"]] == [second["id"], first["id"]]
    assert listed["issues"][1]["content"] == "x" * 500
    assert listed["total"] == 2
    error = await refused(client, "list_issues", {"ids": [first["id"], "ISSUE_99"]})
    assert (error.code, error.data["field"]) == (NOT_FOUND, "ids")
    # A filter beside ids would mean nothing: refused, naming it, rather than ignored.
    error = await refused(client, "list_issues", {"ids": [first["id"]], "status": "completed"})
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "status")


async def test_list_fragments_query_ranks_the_matches_after_every_filter(client: InstanceClient) -> None:
    await fragment(client, "Cache keys", "The cache keys are user ids.", tags=["cache"])
    wanted = await fragment(client, "Cache size", "The cache holds a thousand keys.", tags=["cache", "perf"])
    await fragment(
        client, "Cache eviction", "Keys leave the cache after a day.", tags=["cache", "perf"], status="archived"
    )
    await fragment(client, "Deploys", "Nothing about that here.", tags=["perf"])
    found = await client.call("list_fragments", {"query": "cache keys", "tags": ["perf"], "status": "active"})
    assert [f["id"] for f in found["fragments"]] == [wanted["id"]]
    assert found["total"] == 1
    assert "**" in found["fragments"][0]["snippet"]
    everything = await client.call("list_fragments", {"query": "cache", "limit": 1})
    assert (len(everything["fragments"]), everything["total"]) == (1, 3)  # the limit comes after the filters


async def test_list_fragments_by_ids_with_links_is_get_fragment_with_links(client: InstanceClient) -> None:
    question = await fragment(client, "Why slow?", "It waits.")
    answer = await fragment(client, "N+1", "One query a row.")
    link = await client.call(
        "create_fragment_link", {"source_id": answer["id"], "target_id": question["id"], "link_type": "answers"}
    )
    [listed] = (await client.call("list_fragments", {"ids": [question["id"]], "links": True}))["fragments"]
    assert listed["body"] == "It waits."
    assert [(x["id"], x["direction"]) for x in listed["links"]] == [(link["id"], "incoming")]
    error = await refused(client, "list_fragments", {"ids": [question["id"]], "query": "slow"})
    assert error.data["field"] == "query"


async def test_update_fragment_links_unlinks_and_deletes(client: InstanceClient) -> None:
    question = await fragment(client, "Why slow?", "It waits.")
    answer = await fragment(client, "N+1", "One query a row.")
    linked = await client.call(
        "update_fragment",
        {"id": answer["id"], "title": "N+1 queries", "link_to": question["id"], "link_type": "answers"},
    )
    assert linked["title"] == "N+1 queries"
    assert (linked["link"]["source_id"], linked["link"]["target_id"]) == (answer["id"], question["id"])
    # The same link again is the link there is: the call can be repeated.
    again = await client.call(
        "update_fragment", {"id": answer["id"], "link_to": question["id"], "link_type": "answers"}
    )
    assert again["link"]["id"] == linked["link"]["id"]
    unlinked = await client.call("update_fragment", {"id": question["id"], "unlink": linked["link"]["id"]})
    assert unlinked["unlinked"] == linked["link"]["id"]
    assert (await client.call("get_fragment_links", {"fragment_id": question["id"]}))["links"] == []
    deleted = await client.call("update_fragment", {"id": answer["id"], "delete": True})
    assert deleted["deleted"] == answer["id"]
    error = await refused(client, "get_fragment", {"id": answer["id"]})
    assert error.code == NOT_FOUND


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"link_to": "no-such-fragment", "link_type": "related"}, "link_to"),
        ({"link_to": "SELF", "link_type": "related"}, "link_to"),
        ({"link_to": "OTHER"}, "link_type"),
        ({"unlink": "no-such-link"}, "unlink"),
        ({"unlink": "FOREIGN"}, "unlink"),
        ({"delete": True}, "title"),
        ({"type": "poem"}, "type"),
    ],
)
async def test_a_refused_update_fragment_changes_nothing(
    client: InstanceClient, change: dict[str, Any], field: str
) -> None:
    mine = await fragment(client, "Mine", "Before.")
    other = await fragment(client, "Other", "Elsewhere.")
    third = await fragment(client, "Third", "Far.")
    foreign = await client.call(
        "create_fragment_link", {"source_id": other["id"], "target_id": third["id"], "link_type": "related"}
    )
    names = {"SELF": mine["id"], "OTHER": other["id"], "FOREIGN": foreign["id"]}
    change = {k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    before = [await client.call("list_fragments", {"ids": [mine["id"], other["id"]], "links": True})]
    with pytest.raises(RpcError) as caught:
        await client.call("update_fragment", {"id": mine["id"], "title": "After", **change})
    assert caught.value.data["field"] == field, caught.value.message
    assert [await client.call("list_fragments", {"ids": [mine["id"], other["id"]], "links": True})] == before


async def test_claim_issue_takes_the_next_ready_one_and_lets_go(connect: Connect) -> None:
    agent = await connect("alice")
    assert "id" not in (await agent.call("claim_issue", {"issue_id": "next"}))  # nothing to take: a message
    low = await agent.call("record_issue", {"title": "Low", "priority": "low"})
    high = await agent.call("record_issue", {"title": "High", "priority": "high"})
    taken = await agent.call("claim_issue", {"issue_id": "next"})
    assert (taken["id"], taken["assignee"], taken["status"]) == (high["id"], "alice", "in-progress")
    assert (await agent.call("claim_issue", {"issue_id": "next"}))["id"] == low["id"]
    released = await agent.call("claim_issue", {"issue_id": high["id"], "release": True})
    assert (released["assignee"], released["status"]) == (None, "open")


async def test_reserve_checks_and_releases(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    held = await alice.call("reserve", {"resources": ["src/db/**"]})
    checked = await bob.call("reserve", {"resources": ["src/db/schema.sql"], "check": True})
    assert checked["free"] is False
    assert checked["paths"][0]["held_by"][0]["holder"] == "alice"
    assert (await bob.call("list_reservations"))["reservations"][0]["id"] == held["id"]  # a check reserves nothing
    await alice.call("reserve", {"resources": ["docs/**"]})
    assert len((await alice.call("reserve", {"release": "all"}))["released"]) == 2
    error = await refused(alice, "reserve", {"reason": "nothing named"})
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "resources")
    error = await refused(alice, "reserve", {"release": "all", "resources": ["src/**"]})
    assert error.data["field"] == "resources"


async def test_get_process_logs_waits_for_the_exit_then_gives_the_last_lines(client: InstanceClient) -> None:
    process = await client.call("start_process", {"command": PRINTS, "tty": False})
    logs = await client.call("get_process_logs", {"process_id": process["id"], "wait_for": {"exit": True}})
    assert (logs["state"], logs["exit_code"], logs["wait"]["reason"]) == ("stopped", 0, "exit")
    assert "tests passed" in [line["text"] for line in logs["lines"]]
    error = await refused(
        client, "get_process_logs", {"process_id": process["id"], "wait_for": {"exit": True, "port": True}}
    )
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "wait_for")
    # start_process waits for readiness, not for the end: exit is get_process_logs' own.
    error = await refused(client, "start_process", {"command": PRINTS, "wait_for": {"exit": True}})
    assert error.data["field"] == "wait_for.exit"


async def test_set_queue_config_pauses_and_resumes(client: InstanceClient) -> None:
    assert (await client.call("set_queue_config", {"paused": True}))["paused"] is True
    queued = await client.call("start_process", {"command": PRINTS})
    assert (await client.call("get_process_status", {"process_id": queued["id"]}))["state"] == "queued"
    resumed = await client.call("set_queue_config", {"paused": False, "max_concurrent": 2})
    assert (resumed["paused"], resumed["config"]["max_concurrent"]) == (False, 2)
