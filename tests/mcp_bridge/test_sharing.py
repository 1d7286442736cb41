"""Agents in one project share one instance; agents in different projects get their own."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mcp import Client

from murmuration import registry
from tests.mcp_bridge.conftest import bridge, cli, data_folder, git_project, ok

T = TypeVar("T")


async def agent(cwd: Path, work: Callable[[Client], Awaitable[T]]) -> T:
    """One agent's whole session in one task (the SDK's sessions must end in the task that began them)."""
    async with bridge(cwd) as client:
        return await work(client)


async def test_two_bridges_in_one_project_share_one_server(project: Path) -> None:
    (project / "src").mkdir()
    both_in = asyncio.Barrier(2)
    written = asyncio.Event()
    answered = asyncio.Event()
    issue: dict[str, Any] = {}

    async def first(client: Client) -> dict[str, Any]:
        info = await ok(client, "get_instance_info")
        await both_in.wait()
        issue.update(await ok(client, "record_issue", title="from the first agent"))
        written.set()
        await answered.wait()
        assert (await ok(client, "get_issue", issue_id=issue["id"]))["status"] == "completed"
        return info

    async def second(client: Client) -> dict[str, Any]:
        info = await ok(client, "get_instance_info")
        await both_in.wait()
        await written.wait()
        assert (await ok(client, "get_issue", issue_id=issue["id"]))["title"] == "from the first agent"
        await ok(client, "update_issue", issue_id=issue["id"], status="completed")
        answered.set()
        return info

    # Both agents start at the same moment, the second from a sub-folder of the work tree.
    infos = await asyncio.gather(agent(project, first), agent(project / "src", second))
    assert infos[0]["pid"] == infos[1]["pid"]
    assert infos[0]["port"] == infos[1]["port"]
    assert infos[0]["id"] == infos[1]["id"]
    assert registry.managed_folders() == [data_folder(project)]
    assert not (project / "src" / ".murmuration").exists()


async def test_concurrent_writers_through_two_bridges_never_share_an_issue_id(project: Path) -> None:
    async def writer(client: Client) -> list[str]:
        created = await asyncio.gather(*(ok(client, "record_issue", title=f"race {n}") for n in range(10)))
        return [issue["id"] for issue in created]

    ids = await asyncio.gather(agent(project, writer), agent(project, writer))
    assert len(set(ids[0]) | set(ids[1])) == 20


async def test_two_projects_get_two_instances_each_linking_to_its_own_port(tmp_path: Path) -> None:
    # Same folder name in two places: distinct instances and distinct ids.
    alpha = git_project(tmp_path / "a", "app")
    beta = git_project(tmp_path / "b", "app")

    async def use(client: Client) -> dict[str, Any]:
        info = await ok(client, "get_instance_info")
        issue = await ok(client, "record_issue", title=f"only in {info['id']}")
        assert urlsplit(issue["web_url"]).port == info["port"]
        link = await ok(client, "get_web_ui_url", view="issues", item=issue["id"])
        assert link["web_url"] == f"http://127.0.0.1:{info['port']}/#/issues/{issue['id']}"
        listed = await ok(client, "list_issues")
        assert [i["title"] for i in listed["issues"]] == [f"only in {info['id']}"]
        return info

    one, two = await asyncio.gather(agent(alpha, use), agent(beta, use))
    assert one["pid"] != two["pid"]
    assert one["port"] != two["port"]
    assert one["id"] != two["id"]
    assert one["name"] == two["name"] == "app"


async def test_ls_lists_the_project_instance_and_finds_it_by_name_and_id(project: Path, tmp_path: Path) -> None:
    async with bridge(project) as client:
        info = await ok(client, "get_instance_info")
    listing = await cli("ls", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [(r["id"], r["name"], r["status"], r["port"], r["data_dir"]) for r in rows] == [
        (info["id"], "shop", "running", info["port"], str(data_folder(project).path))
    ]
    for name in (info["id"], "shop"):
        url = await cli("url", name)
        assert url.stdout.strip() == info["url"], url.stderr
    # Another agent anywhere can reach it by name, without being in the project.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with bridge(elsewhere, "--instance", info["id"]) as client:
        assert (await ok(client, "get_instance_info"))["pid"] == info["pid"]
    assert not (elsewhere / ".murmuration").exists()


async def test_the_instance_of_a_deleted_project_keeps_its_knowledge_until_removed(project: Path) -> None:
    async with bridge(project) as client:
        await ok(client, "record_issue", title="Remember me")
    stopped = await cli("stop", "shop")
    assert stopped.returncode == 0, stopped.stderr
    shutil.rmtree(project)
    # Its data lives in the base folder, not in the project: deleting the project loses no knowledge.
    assert registry.managed_folders() == [data_folder(project)]
    removed = await cli("rm", "shop")
    assert removed.returncode == 0, removed.stderr
    assert registry.managed_folders() == []
    assert "No instances yet" in (await cli("ls")).stdout
