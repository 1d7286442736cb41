"""Attacks by a cloned repository: a `.murmuration/` folder committed to it must never be able to act.

Each test plants what an attacker can commit — a state.db with a queued command, a token, an instance.json,
symbolic links — and starts a real bridge there, as an agent would (initialize, tools/list, a call).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient, InstanceUnavailable
from murmuration.datafolder import DataFolder
from murmuration.home import projects_folder
from tests.found_folders import ATTACKER_TOKEN, plant_folder, touch_command
from tests.mcp_bridge.conftest import bridge, data_folder, ok
from tests.waiting import until_async


async def run_to_the_end(client: object, project: Path) -> None:
    """Start a harmless process and wait for its end: by then the queue has had every chance to run anything."""
    started = await ok(client, "start_process", command=[sys.executable, "-c", "print('mine')"], title="mine")

    async def state() -> str:
        return str((await ok(client, "get_process_status", process_id=started["id"]))["state"])

    await until_async(state, "the harmless process to end", done=lambda s: s in ("stopped", "failed"))


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


async def test_a_committed_data_folder_runs_nothing_and_is_not_used(project: Path, tmp_path: Path) -> None:
    planted = project / ".murmuration"
    pwned = project / "PWNED"
    plant_folder(planted, "shop", touch_command(pwned), project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (planted / "logs").symlink_to(outside, target_is_directory=True)
    forged = {"pid": os.getpid(), "port": 1, "url": "http://127.0.0.1:1/", "token": ATTACKER_TOKEN}
    (planted / "runtime.json").write_text(json.dumps({**forged, "started_at": "x", "version": "0"}))
    before = digest(planted)

    async with bridge(project) as client:
        tools = await client.list_tools()
        assert tools.tools
        await run_to_the_end(client, project)
        processes = await ok(client, "list_processes")
        info = await ok(client, "get_instance_info")

    assert not pwned.exists(), "a command committed to the repository ran"
    assert [p["title"] for p in processes["processes"]] == ["mine"]
    # It served a fresh instance of its own, in the base folder, and used nothing of the committed one.
    served = data_folder(project)
    assert served.path.parent == projects_folder()
    assert registry.find(info["id"]) == served
    assert digest(planted) == before
    assert list(outside.iterdir()) == []
    assert served.token_file.read_text() != ATTACKER_TOKEN
    with pytest.raises(InstanceUnavailable, match="401"):
        await InstanceClient.connect(info["url"], ATTACKER_TOKEN)
    log = (served.log_folder / "mcp-bridge.log").read_text()
    assert f"ignored {planted}" in log


async def test_an_earlier_versions_own_project_folder_moves_once_and_its_work_never_runs(project: Path) -> None:
    legacy = project / ".murmuration"
    pwned = project / "PWNED"
    plant_folder(legacy, "shop", touch_command(pwned), project)
    # Registered in this user's base folder, as the earlier version did for a folder it made.
    registration = registry.registered_root() / (
        hashlib.sha256(str(legacy.resolve()).encode()).hexdigest()[:24] + ".json"
    )
    registration.parent.mkdir(parents=True)
    registration.write_text(json.dumps({"path": str(legacy.resolve())}))

    async with bridge(project) as client:
        await run_to_the_end(client, project)
        issues = await ok(client, "list_issues")
        processes = await ok(client, "list_processes")

    assert not pwned.exists(), "work queued in the moved folder ran"
    assert not legacy.exists(), "the folder was not moved out of the project"
    assert not registration.exists()
    assert [i["title"] for i in issues["issues"]] == ["planted issue"]
    states = {p["title"]: p["state"] for p in processes["processes"]}
    assert states == {"planted": "cancelled", "mine": "stopped"}
    moved = data_folder(project)
    assert moved.token_file.read_text() != "attacker-chosen-token-" + "x" * 40
    assert moved.read_info().seal, "the moved folder is sealed once its found work is set aside"


def test_a_data_folder_inside_a_project_is_never_a_project_instance(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / ".murmuration").mkdir(parents=True)
    folder = registry.open_project(project)
    assert folder.path.parent == projects_folder()
    assert folder != DataFolder(project / ".murmuration")
    assert sorted(p.name for p in project.iterdir()) == [".murmuration"]
