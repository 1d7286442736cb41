"""Several agents on one instance through real bridges, driven by the MCP SDK's own client as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from mcp import Client

from murmuration.client import InstanceClient
from tests.mcp_bridge.conftest import bridge, cli, data_folder, ok, refused

T = TypeVar("T")
RELEASE_WITHIN = 2.0  # seconds from a bridge's SIGKILL to its reservations being free


async def agent(cwd: Path, name: str, work: Callable[[Client], Awaitable[T]], *args: str) -> T:
    """One agent's whole session in one task (the SDK's sessions must end in the task that began them)."""
    async with bridge(cwd, *args, client_name=name) as client:
        return await work(client)


async def names_seen(client: Client) -> list[str]:
    return [a["name"] for a in (await ok(client, "list_agents"))["agents"]]


async def test_two_agents_see_each_other_and_each_write_carries_its_name(project: Path) -> None:
    both_named = asyncio.Barrier(2)
    seen: dict[str, list[str]] = {}

    async def work(client: Client) -> dict[str, Any]:
        me = next(a for a in (await ok(client, "list_agents"))["agents"] if a["you"])
        await both_named.wait()
        seen[me["name"]] = await names_seen(client)
        issue = await ok(client, "record_issue", title=f"by {me['name']}")
        claimed = await ok(client, "claim_issue", issue_id=issue["id"])
        await both_named.wait()  # each holds its claim while the other looks
        return {"me": me, "issue": issue, "claimed": claimed}

    claude, codex = await asyncio.gather(agent(project, "claude-code", work), agent(project, "codex", work))
    assert (claude["me"]["name"], codex["me"]["name"]) == ("claude-code", "codex")
    assert claude["me"]["client"] == "claude-code 1.0.0"
    assert claude["me"]["pid"] != codex["me"]["pid"]  # each bridge is its own process
    assert sorted(seen["claude-code"]) == sorted(seen["codex"]) == ["claude-code", "codex"]
    for result, name in ((claude, "claude-code"), (codex, "codex")):
        assert (result["issue"]["created_by"], result["claimed"]["assignee"]) == (name, name)


async def test_two_agents_with_one_client_name_are_told_apart(project: Path) -> None:
    both_in = asyncio.Barrier(2)

    async def work(client: Client) -> str:
        mine = next(a["name"] for a in (await ok(client, "list_agents"))["agents"] if a["you"])
        await both_in.wait()
        return mine

    names = await asyncio.gather(agent(project, "claude-code", work), agent(project, "claude-code", work))
    assert sorted(names) == ["claude-code", "claude-code-2"]


async def test_agent_flag_and_environment_choose_the_name(project: Path) -> None:
    async def me(client: Client) -> str:
        return next(a["name"] for a in (await ok(client, "list_agents"))["agents"] if a["you"])

    assert await agent(project, "claude-code", me, "--agent", "reviewer") == "reviewer"
    async with bridge(project, env={"MURMURATION_AGENT": "night-shift"}, client_name="claude-code") as client:
        assert await me(client) == "night-shift"
    # A client whose own name is unusable still gets a usable one.
    assert await agent(project, "person", me) == "agent"
    assert await agent(project, "bad\x1b[2Jname", me) == "bad [2Jname"


async def test_a_bad_agent_name_stops_the_bridge_with_a_sentence(project: Path) -> None:
    for args, env in (
        (["--agent", "bell\x07"], {}),
        (["--agent", "person"], {}),
        ([], {"MURMURATION_AGENT": "x" * 65}),
    ):
        result = await cli("mcp", *args, env=env, cwd=project)
        assert result.returncode == 1, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


async def test_a_killed_bridge_lets_go_of_its_reservations_within_two_seconds(project: Path) -> None:
    granted: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    killed = asyncio.Event()

    async def doomed(client: Client) -> None:
        me = next(a for a in (await ok(client, "list_agents"))["agents"] if a["you"])
        reservation = await ok(client, "reserve", resources=["src/db/**"], reason="migrating")
        issue = await ok(client, "record_issue", title="half done")
        await ok(client, "claim_issue", issue_id=issue["id"])
        granted.set_result({"pid": me["pid"], "reservation": reservation, "issue": issue})
        await killed.wait()

    async def survivor(client: Client) -> None:
        held = await granted
        sentence = await refused(client, "reserve", {"resources": ["src/db/schema.sql"]})
        assert "doomed" in sentence
        assert "migrating" in sentence
        runtime = data_folder(project).read_runtime()
        assert runtime is not None
        async with await InstanceClient.connect(runtime.url, runtime.token) as watcher:
            await watcher.subscribe(["reservation"])
            os.kill(held["pid"], signal.SIGKILL)
            killed_at = time.monotonic()
            async with asyncio.timeout(RELEASE_WITHIN):
                while True:
                    event = await watcher.next_event()
                    if event["action"] == "ended" and event["reservation"]["id"] == held["reservation"]["id"]:
                        break
            assert event["why"] == "session ended"
            assert time.monotonic() - killed_at < RELEASE_WITHIN
        killed.set()
        mine = await ok(client, "reserve", resources=["src/db/**"])
        assert mine["holder"] == "survivor"
        listing = await ok(client, "list_agents")
        assert [a["name"] for a in listing["agents"]] == ["survivor"]
        # Its claim stays visible as held by one who left, and the next claim takes it.
        assert listing["left"] == [{"name": "doomed", "claims": [_brief(listing, held["issue"]["id"])]}]
        taken = await ok(client, "claim_issue", issue_id=held["issue"]["id"])
        assert taken["assignee"] == "survivor"

    async def doomed_session() -> None:
        # The bridge dies under the SDK's client; how the client then closes is not what this test is about.
        with contextlib.suppress(Exception, BaseExceptionGroup):
            await agent(project, "doomed", doomed)

    await asyncio.gather(doomed_session(), agent(project, "survivor", survivor))


def _brief(listing: dict[str, Any], issue_id: str) -> dict[str, Any]:
    [left] = listing["left"]
    return next(c for c in left["claims"] if c["id"] == issue_id)


async def test_a_bridge_keeps_its_name_and_claims_when_the_instance_restarts(project: Path) -> None:
    first_in = asyncio.Event()
    first_done = asyncio.Event()

    async def first(client: Client) -> None:
        await ok(client, "ping")  # named before its first call is answered
        first_in.set()
        await first_done.wait()

    async def second(client: Client) -> None:
        me = next(a for a in (await ok(client, "list_agents"))["agents"] if a["you"])
        assert me["name"] == "claude-code-2"
        issue = await ok(client, "record_issue", title="mine")
        claimed = await ok(client, "claim_issue", issue_id=issue["id"])
        first_done.set()
        stopped = await cli("stop", "shop")
        assert stopped.returncode == 0, stopped.stderr
        # The next call starts the instance again; the bridge names its new session as it was named before.
        again = await ok(client, "claim_issue", issue_id=issue["id"])
        assert (again["assignee"], again["assigned_at"]) == ("claude-code-2", claimed["assigned_at"])
        assert await names_seen(client) == ["claude-code-2"]

    async def first_agent() -> None:
        with contextlib.suppress(Exception, BaseExceptionGroup):  # its instance is stopped under it
            await agent(project, "claude-code", first)

    async def second_agent() -> None:
        await first_in.wait()
        await agent(project, "claude-code", second)

    await asyncio.gather(first_agent(), second_agent())


async def test_bad_coordination_calls_come_back_as_tool_errors_naming_the_field(project: Path) -> None:
    async def work(client: Client) -> None:
        issue = await ok(client, "record_issue", title="Somewhere")
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("reserve", {"resources": ["../**"]}, "resources.0"),
            ("reserve", {"resources": ["/etc/**"]}, "resources.0"),
            ("reserve", {"resources": []}, "resources"),
            ("reserve", {"resources": ["x"], "ttl": 0}, "ttl"),
            ("reserve", {"resources": ["x"], "ttl": 90_000}, "ttl"),
            ("claim_issue", {"issue_id": "ISSUE_404"}, "issue_id"),
            ("update_issue", {"issue_id": issue["id"], "blocked_by": [issue["id"]]}, "blocked_by"),
            ("check_paths", {"paths": ["~/.ssh/**"]}, "paths.0"),
        ]
        for tool, arguments, field in cases:
            result = await client.call_tool(tool, arguments)
            assert result.is_error, (tool, arguments)
            error = (result.structured_content or {})["error"]
            assert error["data"]["field"] == field, (tool, arguments, error)
        assert (await ok(client, "list_reservations"))["reservations"] == []
        assert (await ok(client, "get_issue", issue_id=issue["id"]))["blocked_by"] == []

    await agent(project, "claude-code", work)
