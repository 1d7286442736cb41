"""Attacks on the jobs merged into listed tools, over a real socket: real agents racing for `claim_issue next`,
refusals that name the parameter the caller gave (not the merged operation's), and nothing changed by them."""

from __future__ import annotations

import asyncio
import sys

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.contract import CONFLICT, INVALID_PARAMS, NOT_FOUND
from tests.operations.conftest import Connect, refused

AGENTS = 6
ISSUES = 10
SLEEPS = [sys.executable, "-c", "import time; time.sleep(600)"]


async def test_agents_racing_for_claim_next_each_get_different_issues_and_every_issue_goes_once(
    connect: Connect,
) -> None:
    agents = [await connect(f"agent{n}") for n in range(AGENTS)]
    recorded = [await agents[0].call("record_issue", {"title": f"Task {n}"}) for n in range(ISSUES)]

    async def claim_until_none(n: int) -> list[str]:
        taken = []
        while "id" in (answer := await agents[n].call("claim_issue", {"issue_id": "next"})):
            assert answer["assignee"] == f"agent{n}"
            taken.append(answer["id"])
        return taken

    claimed = await asyncio.gather(*(claim_until_none(n) for n in range(AGENTS)))
    every = [issue for taken in claimed for issue in taken]
    assert sorted(every) == sorted(i["id"] for i in recorded)  # each exactly once
    board = await agents[0].call("list_issues", {"ids": every})
    holders = {i["id"]: i["assignee"] for i in board["issues"]}
    assert all(holders[issue] == f"agent{n}" for n, taken in enumerate(claimed) for issue in taken)


async def test_release_of_an_issue_someone_else_holds_is_refused_and_it_stays_theirs(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    issue = await alice.call("record_issue", {"title": "Mine"})
    await alice.call("claim_issue", {"issue_id": issue["id"]})
    error = await refused(bob, "claim_issue", {"issue_id": issue["id"], "release": True})
    assert (error.code, error.data["field"], error.data["holder"]) == (CONFLICT, "issue_id", "alice")
    [after] = (await bob.call("list_issues", {"ids": [issue["id"]]}))["issues"]
    assert (after["assignee"], after["status"]) == ("alice", "in-progress")


async def test_release_of_next_says_release_takes_an_id(connect: Connect) -> None:
    alice = await connect("alice")
    issue = await alice.call("record_issue", {"title": "Open"})
    error = await refused(alice, "claim_issue", {"issue_id": "next", "release": True})
    assert (error.code, error.data["field"]) == (INVALID_PARAMS, "issue_id")
    assert "ISSUE_3" in error.message
    assert "No issue has" not in error.message
    [after] = (await alice.call("list_issues", {"ids": [issue["id"]]}))["issues"]
    assert (after["assignee"], after["status"]) == (None, "open")  # nothing was claimed instead


async def test_a_claim_of_a_waiting_issue_points_at_claim_next_not_a_merged_tool(connect: Connect) -> None:
    alice = await connect("alice")
    first = await alice.call("record_issue", {"title": "First"})
    then = await alice.call("record_issue", {"title": "Then", "blocked_by": [first["id"]]})
    error = await refused(alice, "claim_issue", {"issue_id": then["id"]})
    assert "claim_issue 'next'" in error.message
    assert "next_issue" not in error.message


async def test_reserve_release_refusals_name_release_and_end_nothing(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    held = await bob.call("reserve", {"resources": ["src/db/**"]})
    for which, code in ((held["id"], CONFLICT), ("R999", NOT_FOUND), ("ALL", NOT_FOUND)):
        error = await refused(alice, "reserve", {"release": which})
        assert (error.code, error.data["field"]) == (code, "release"), error.message
        assert "list_reservations" not in error.message  # a merged tool an agent does not see
    # The merged operation still names its own parameter.
    error = await refused(alice, "release", {"reservation_id": held["id"]})
    assert error.data["field"] == "reservation_id"
    info = await alice.call("get_instance_info", {"include": ["reservations"]})
    assert [r["id"] for r in info["reservations"]] == [held["id"]]


async def test_a_check_with_hostile_paths_names_the_path_and_reserves_nothing(connect: Connect) -> None:
    alice = await connect("alice")
    for path in ("..", "src/../../etc", "/etc/passwd", "a/\x00b", "C:\\Windows", "~/.ssh"):
        error = await refused(alice, "reserve", {"resources": ["ok/**", path], "check": True})
        assert (error.code, error.data["field"]) == (INVALID_PARAMS, "resources.1"), (path, error.message)
    error = await refused(alice, "reserve", {"resources": ["x"] * 10_000, "check": True})
    assert error.data["field"] == "resources"
    assert (await alice.call("get_instance_info", {"include": ["reservations"]}))["reservations"] == []


@pytest.mark.parametrize(("bad", "field"), [({"grep": "("}, "grep"), ({"since": "yesterday"}, "since")])
async def test_get_process_logs_refuses_a_bad_page_before_it_waits(
    client: InstanceClient, bad: dict[str, str], field: str
) -> None:
    process = await client.call("start_process", {"command": SLEEPS, "tty": False, "immediate": True})
    arguments = {"process_id": process["id"], "wait_for": {"exit": True, "timeout": 120}, **bad}
    # Refused at once: not after two minutes of waiting on a process that keeps running.
    with pytest.raises(RpcError) as caught:
        await asyncio.wait_for(client.call("get_process_logs", arguments), 30)
    assert (caught.value.code, caught.value.data["field"]) == (INVALID_PARAMS, field)
    assert (await client.call("get_process_status", {"process_id": process["id"]}))["state"] == "running"
    await client.call("stop_process", {"process_id": process["id"], "force": True})
