"""Bridges as agents run them: `python -m murmuration mcp` in a project folder, driven by the MCP SDK's own client.

Servers a bridge starts are detached (they outlive it by design), so every test ends with a sweep that stops each
instance of its own MURMURATION_HOME; the instances end their managed processes as they stop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from murmuration import registry
from murmuration.control import stop_instance
from murmuration.datafolder import DataFolder
from murmuration.status import State, probe

CALL_TIMEOUT = 60.0
_logs = itertools.count(1)


def git_project(parent: Path, name: str) -> Path:
    """A fresh git work tree called `name` under `parent`."""
    root = parent / name
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git project the agent works in."""
    return git_project(tmp_path / "work", "shop")


@pytest.fixture(autouse=True)
def stop_every_instance(home: Path) -> Iterator[None]:
    """After the test: stop every instance of this test's base folder, wherever its data folder is."""
    yield
    for folder in registry.managed_folders():
        stop_instance(folder, timeout=10)


def stderr_file() -> TextIO:
    """A file beside the test's base folder for one bridge's stderr, to read when a test fails."""
    home = Path(os.environ["MURMURATION_HOME"])
    return open(home.parent / f"bridge-{next(_logs)}.stderr", "w")


@asynccontextmanager
async def bridge(
    cwd: Path, *args: str, env: dict[str, str] | None = None, mode: str = "legacy", client_name: str | None = None
) -> AsyncIterator[Client]:
    """An MCP client session with `murmuration mcp ARGS` run as a subprocess in `cwd`; `client_name` is the name
    the client gives in its `initialize` (the SDK's own by default)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "murmuration", "mcp", *args],
        cwd=str(cwd),
        env={**os.environ, **(env or {})},
    )
    with stderr_file() as errlog:
        info = None if client_name is None else types.Implementation(name=client_name, version="1.0.0")
        async with Client(
            stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=CALL_TIMEOUT, client_info=info
        ) as client:
            yield client


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a tool call that must succeed."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    # The readable text carries the same answer as the structured content: once, compact (a log as its lines).
    if tool == "get_process_logs":
        assert all(f"{line['n']} {line['text']}" in text_of(result) for line in result.structured_content["lines"])
    else:
        compact = json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))
        assert text_of(result).count(compact) == 1
    return result.structured_content


async def refused(client: Client, tool: str, arguments: Any) -> str:
    """The sentence of a tool call that must fail as a tool error (never a protocol error)."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, types.CallToolResult)
    assert result.is_error, f"{tool} succeeded: {result.structured_content}"
    sentence = text_of(result)
    assert sentence.rstrip().endswith((".", ")")), sentence
    return sentence


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def data_folder(project: Path) -> DataFolder:
    """The data folder of the project's own instance: in the base folder, named after the project's real path."""
    return registry.project_folder(project)


def running_pid(folder: DataFolder) -> int | None:
    status = probe(folder)
    return status.runtime.pid if status.state is State.RUNNING and status.runtime else None


async def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`murmuration ARGS` as a person runs it, without blocking the test's event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "murmuration", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
