"""Several agents on one instance, over real sockets: who is here, who did what, claims and dependencies.

Each agent is its own WebSocket connection (as each MCP bridge is), named with `identify`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from murmuration.core.agents import PERSON, Caller
from murmuration.server.lifecycle import RunningInstance
from tests.operations.conftest import Connect, left, refused

INVALID_PARAMS = -32602
NOT_FOUND = -32004
CONFLICT = -32009


def names(listing: dict[str, Any]) -> list[str]:
    return [agent["name"] for agent in listing["agents"]]


# --- who is here --------------------------------------------------------------------------------------------------


async def test_agents_with_one_client_name_get_unique_names_and_see_each_other(connect: Connect) -> None:
    first = await connect("claude-code", client="claude-code 1.0", pid=4242)
    second = await connect(None)
    named = await second.call("identify", {"name": "claude-code"})
    assert named["name"] == "claude-code-2"
    listing = await first.call("list_agents")
    assert names(listing) == ["claude-code", "claude-code-2"]
    me = next(a for a in listing["agents"] if a["you"])
    assert (me["name"], me["client"], me["pid"], me["kind"]) == ("claude-code", "claude-code 1.0", 4242, "agent")
    assert me["last_call"] == "list_agents"
    assert me["connected_at"]
    assert me["calls"] == 2
    assert listing["web_url"].endswith("#/agents")


async def test_a_name_is_free_again_once_its_session_ends_and_resume_keeps_a_numbered_name(
    connect: Connect, instance: RunningInstance
) -> None:
    first = await connect("codex")
    second = await connect("codex")
    watcher = await connect("watcher")
    await watcher.subscribe(["agent"])
    await first.close()
    await left(watcher, "codex")
    assert names(await watcher.call("list_agents")) == ["codex-2", "watcher"]
    again = await connect(None)
    # A bridge that reconnects asks for the name it had; it keeps it while nobody else took it.
    assert (await again.call("identify", {"name": "codex", "resume": "codex-3"}))["name"] == "codex-3"
    assert (await second.call("identify", {"name": "codex"}))["name"] == "codex-2"  # renaming keeps its own


async def test_an_unnamed_client_is_client_and_cannot_pass_for_the_person(connect: Connect) -> None:
    anonymous = await connect(None)
    listing = await anonymous.call("list_agents")
    assert [(a["name"], a["kind"]) for a in listing["agents"]] == [("client", "client")]
    for name in ("person", "Client", "bad\x07name", "two\nlines", "x" * 65, ""):
        error = await refused(anonymous, "identify", {"name": name})
        assert (error.code, error.data["field"]) == (INVALID_PARAMS, "name"), (name, error.message)
    assert names(await anonymous.call("list_agents")) == ["client"]  # nothing changed


# --- who did what -------------------------------------------------------------------------------------------------


async def test_every_write_records_the_name_of_its_session(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    issue = await alice.call("record_issue", {"title": "Write the parser"})
    assert (issue["created_by"], issue["updated_by"]) == ("alice", "alice")
    changed = await bob.call("update_issue", {"issue_id": issue["id"], "priority": "high"})
    assert (changed["created_by"], changed["updated_by"]) == ("alice", "bob")
    fragment = await bob.call("record_fragment", {"title": "How to parse", "body": "Carefully.", "type": "note"})
    assert (fragment["author"], fragment["updated_by"]) == ("bob", "bob")
    fragment = await alice.call("update_fragment", {"id": fragment["id"], "body": "Very carefully."})
    assert (fragment["author"], fragment["updated_by"]) == ("bob", "alice")
    milestone = await alice.call("set_milestone", {"title": "Parser done"})
    assert milestone["milestone"]["updated_by"] == "alice"
    process = await bob.call("start_process", {"command": ["true"], "immediate": True})
    assert process["started_by"] == "bob"
    assert (await alice.call("get_process_status", {"process_id": process["id"]}))["started_by"] == "bob"


# --- claims -------------------------------------------------------------------------------------------------------


async def test_a_claim_assigns_and_moves_the_card_and_a_second_claim_names_the_holder(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    issue = await alice.call("record_issue", {"title": "Fix login"})
    claimed = await alice.call("claim_issue", {"issue_id": issue["id"]})
    assert (claimed["assignee"], claimed["status"], claimed["assignee_connected"]) == ("alice", "in-progress", True)
    assert claimed["assigned_at"]
    again = await alice.call("claim_issue", {"issue_id": issue["id"]})  # one's own claim: no change of holder
    assert again["assigned_at"] == claimed["assigned_at"]
    error = await refused(bob, "claim_issue", {"issue_id": issue["id"]})
    assert error.code == CONFLICT
    assert "alice" in error.message
    assert claimed["assigned_at"] in error.message
    assert error.data == {"field": "issue_id", "holder": "alice", "since": claimed["assigned_at"]}
    error = await refused(bob, "release_issue", {"issue_id": issue["id"]})
    assert error.code == CONFLICT
    assert error.data["holder"] == "alice"
    error = await refused(bob, "update_issue", {"issue_id": issue["id"], "assignee": "bob"})
    assert error.code == CONFLICT
    assert error.data["holder"] == "alice"
    still = await bob.call("get_issue", {"issue_id": issue["id"]})
    assert (still["assignee"], still["status"]) == ("alice", "in-progress")


async def test_release_and_completion_by_the_holder_let_go_of_the_issue(connect: Connect) -> None:
    alice = await connect("alice")
    first = await alice.call("record_issue", {"title": "One"})
    second = await alice.call("record_issue", {"title": "Two"})
    await alice.call("claim_issue", {"issue_id": first["id"]})
    released = await alice.call("release_issue", {"issue_id": first["id"]})
    assert (released["assignee"], released["assigned_at"], released["status"]) == (None, None, "open")
    await alice.call("claim_issue", {"issue_id": second["id"]})
    done = await alice.call("update_issue", {"issue_id": second["id"], "status": "completed"})
    assert (done["assignee"], done["status"], done["updated_by"]) == (None, "completed", "alice")


async def test_the_claim_of_a_session_that_ended_is_shown_as_left_and_can_be_taken(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    issue = await alice.call("record_issue", {"title": "Abandoned"})
    await alice.call("claim_issue", {"issue_id": issue["id"]})
    await bob.subscribe(["agent"])
    await alice.close()
    await left(bob, "alice")
    seen = await bob.call("get_issue", {"issue_id": issue["id"]})
    assert (seen["assignee"], seen["status"], seen["assignee_connected"]) == ("alice", "in-progress", False)
    taken = await bob.call("claim_issue", {"issue_id": issue["id"]})
    assert (taken["assignee"], taken["updated_by"], taken["assignee_connected"]) == ("bob", "bob", True)


async def test_a_person_can_reassign_an_issue_another_agent_holds(connect: Connect, instance: RunningInstance) -> None:
    alice = await connect("alice")
    issue = await alice.call("record_issue", {"title": "Held"})
    await alice.call("claim_issue", {"issue_id": issue["id"]})
    # The dashboard's calls come with the person as caller (the browser path: tests/dashboard/test_agents.py).
    person = Caller("S0", PERSON, PERSON)
    present = instance.ctx.agents.names()
    moved = instance.ctx.knowledge.issues.update(issue["id"], {"assignee": "bob"}, person, present)
    assert (moved["assignee"], moved["updated_by"]) == ("bob", "person")
    released = instance.ctx.knowledge.issues.release(issue["id"], person, present)
    assert released["assignee"] is None


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("archived", CONFLICT),
        ("completed", CONFLICT),
        ("missing", NOT_FOUND),
        ("malformed", NOT_FOUND),
    ],
)
async def test_claiming_an_archived_completed_or_missing_issue_is_refused_naming_the_field(
    connect: Connect, setup: str, code: int
) -> None:
    alice = await connect("alice")
    issue = await alice.call("record_issue", {"title": "Old", "status": "archived" if setup == "archived" else "open"})
    if setup == "completed":
        await alice.call("update_issue", {"issue_id": issue["id"], "status": "completed"})
    target = {"missing": "ISSUE_99", "malformed": "ISSUE_x"}.get(setup, issue["id"])
    before = await alice.call("get_issue", {"issue_id": issue["id"]})
    error = await refused(alice, "claim_issue", {"issue_id": target})
    assert (error.code, error.data["field"]) == (code, "issue_id"), error.message
    assert await alice.call("get_issue", {"issue_id": issue["id"]}) == before


async def test_an_unnamed_client_claims_as_client(connect: Connect) -> None:
    anonymous = await connect(None)
    issue = await anonymous.call("record_issue", {"title": "By the CLI"})
    assert issue["created_by"] == "client"
    assert (await anonymous.call("claim_issue", {"issue_id": issue["id"]}))["assignee"] == "client"


# --- dependencies and ready work --------------------------------------------------------------------------------


async def test_a_chain_is_ready_one_link_at_a_time_and_a_cycle_is_refused(connect: Connect) -> None:
    agent = await connect("alice")
    a = (await agent.call("record_issue", {"title": "A"}))["id"]
    b = (await agent.call("record_issue", {"title": "B", "blocked_by": [a]}))["id"]
    c = (await agent.call("record_issue", {"title": "C"}))["id"]
    c_issue = await agent.call("update_issue", {"issue_id": c, "blocked_by": [b]})
    assert (c_issue["blocked_by"], c_issue["waiting_on"]) == ([b], [b])

    async def ready() -> list[str]:
        return [i["id"] for i in (await agent.call("list_issues", {"ready": True}))["issues"]]

    assert await ready() == [a]
    assert (await agent.call("next_issue"))["issue"]["id"] == a
    error = await refused(agent, "claim_issue", {"issue_id": b})
    assert error.code == CONFLICT
    assert error.data["waiting_on"] == [a]
    error = await refused(agent, "update_issue", {"issue_id": a, "blocked_by": [c]})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "blocked_by"
    assert f"{a} → {c} → {b} → {a}" in error.message
    assert (await agent.call("get_issue", {"issue_id": a}))["blocked_by"] == []  # refused: nothing changed
    await agent.call("update_issue", {"issue_id": a, "status": "completed"})
    assert await ready() == [b]
    assert (await agent.call("get_issue", {"issue_id": c}))["waiting_on"] == [b]
    await agent.call("update_issue", {"issue_id": b, "status": "archived"})  # archived counts as done too
    assert await ready() == [c]


@pytest.mark.parametrize(
    ("blocked_by", "code", "words"),
    [
        (["self"], INVALID_PARAMS, "cannot wait on itself"),
        (["ISSUE_404"], NOT_FOUND, "does not exist"),
        (["ISSUE_0"], NOT_FOUND, "ISSUE_3"),
        (["not an id"], NOT_FOUND, "ids look like ISSUE_3"),
    ],
)
async def test_blocking_on_itself_or_a_missing_issue_is_refused_and_changes_nothing(
    connect: Connect, blocked_by: list[str], code: int, words: str
) -> None:
    agent = await connect("alice")
    other = await agent.call("record_issue", {"title": "Other"})
    issue = await agent.call("record_issue", {"title": "Waits", "blocked_by": [other["id"]]})
    wanted = [issue["id"] if b == "self" else b for b in blocked_by]
    error = await refused(agent, "update_issue", {"issue_id": issue["id"], "blocked_by": wanted, "title": "New"})
    assert (error.code, error.data["field"]) == (code, "blocked_by"), error.message
    assert words in error.message
    after = await agent.call("get_issue", {"issue_id": issue["id"]})
    assert (after["title"], after["blocked_by"]) == ("Waits", [other["id"]])
    if blocked_by != ["self"]:  # a new issue cannot name itself
        error = await refused(agent, "record_issue", {"title": "New one", "blocked_by": wanted})
        assert (error.code, error.data["field"]) == (code, "blocked_by")
        assert (await agent.call("list_issues"))["total"] == 2  # no issue was recorded


async def test_next_issue_takes_the_highest_priority_then_oldest_and_skips_held_ones(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    low = await alice.call("record_issue", {"title": "low", "priority": "low"})
    high_old = await alice.call("record_issue", {"title": "high old", "priority": "high"})
    high_new = await alice.call("record_issue", {"title": "high new", "priority": "high"})
    await alice.call("update_issue", {"issue_id": high_old["id"], "assignee": "alice"})  # held, still open
    assert (await bob.call("next_issue"))["issue"]["id"] == high_new["id"]
    assert (await alice.call("next_issue"))["issue"]["id"] == high_old["id"]  # her own counts as hers to take
    taken = await bob.call("next_issue", {"claim": True})
    assert (taken["issue"]["id"], taken["issue"]["assignee"], taken["claimed"]) == (high_new["id"], "bob", True)
    assert (await bob.call("next_issue", {"claim": True}))["issue"]["id"] == low["id"]
    nothing = await bob.call("next_issue", {"claim": True})
    assert nothing["issue"] is None
    assert "Nothing is ready" in nothing["message"]


async def test_concurrent_next_issue_claims_never_hand_out_one_issue_twice(connect: Connect) -> None:
    # 20 calls from 4 sessions over 10 ready issues, all sent at once, repeated 20 times.
    agents = [await connect(f"worker-{n}") for n in range(4)]
    for _ in range(20):
        ids = [(await agents[0].call("record_issue", {"title": f"task {n}"}))["id"] for n in range(10)]
        calls = [agents[n % 4].call("next_issue", {"claim": True}) for n in range(20)]
        answers = await asyncio.gather(*calls)
        won = [a["issue"]["id"] for a in answers if a["issue"] is not None]
        assert sorted(won) == sorted(ids), won
        assert sum(a["issue"] is None for a in answers) == 10
        for issue_id in ids:
            await agents[0].call("update_issue", {"issue_id": issue_id, "status": "archived"})


async def test_list_issues_ready_applies_the_other_filters_before_the_limit(connect: Connect) -> None:
    agent = await connect("alice")
    for n in range(5):
        await agent.call("record_issue", {"title": f"tagged {n}", "tags": ["x"] if n % 2 else []})
    listing = await agent.call("list_issues", {"ready": True, "tags": ["x"], "limit": 1})
    assert listing["total"] == 2
    assert [i["title"] for i in listing["issues"]] == ["tagged 1"]
