"""`murmuration mcp-config`: what it prints parses, names the instance, and really wires a client to it."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from murmuration import registry
from tests.mcp_bridge.conftest import cli, stderr_file


@pytest.fixture
def instance_id(project: Path) -> str:
    return registry.open_project(project).read_info().id


@pytest.mark.parametrize(("client", "key"), [("claude-desktop", "mcpServers"), ("vscode", "servers")])
async def test_json_snippets_parse_and_run_the_bridge_of_that_instance(
    instance_id: str, home: Path, client: str, key: str
) -> None:
    printed = await cli("mcp-config", instance_id, "--client", client)
    assert printed.returncode == 0, printed.stderr
    config = json.loads(printed.stdout)
    assert list(config[key]) == [f"murmuration-{instance_id}"]
    entry = config[key][f"murmuration-{instance_id}"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"][-3:] == ["mcp", "--instance", instance_id]
    assert entry["env"] == {"MURMURATION_HOME": str(home)}
    if client == "vscode":
        assert entry["type"] == "stdio"
    assert printed.stderr.strip()  # where to paste it, said aside from the snippet


async def test_claude_desktop_is_the_default(instance_id: str) -> None:
    default = await cli("mcp-config", instance_id)
    explicit = await cli("mcp-config", instance_id, "--client", "claude-desktop")
    assert default.stdout == explicit.stdout


async def test_the_claude_code_line_names_the_instance(instance_id: str, home: Path) -> None:
    printed = await cli("mcp-config", "shop", "--client", "claude-code")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.count("\n") == 1
    argv = shlex.split(printed.stdout)
    assert argv[:4] == ["claude", "mcp", "add", f"murmuration-{instance_id}"]
    assert argv[4:7] == ["--env", f"MURMURATION_HOME={home}", "--"]
    assert Path(argv[7]).is_absolute()
    assert argv[-3:] == ["mcp", "--instance", instance_id]


async def test_the_desktop_snippet_connects_from_anywhere(instance_id: str, tmp_path: Path) -> None:
    entry = json.loads((await cli("mcp-config", instance_id)).stdout)["mcpServers"][f"murmuration-{instance_id}"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Only what the snippet gives, as Claude Desktop would run it: no test environment leaks in but the ports.
    env = {**entry["env"], "MURMURATION_PORT_RANGE": os.environ["MURMURATION_PORT_RANGE"]}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env, cwd=str(elsewhere))
    with stderr_file() as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=60) as client:
            result = await client.call_tool("get_instance_info", {})
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, result.content
    assert (result.structured_content or {})["id"] == instance_id
    assert not (elsewhere / ".murmuration").exists()


@pytest.mark.parametrize("args", [["nope"], ["shop", "--client", "emacs"], []])
async def test_bad_requests_exit_1_with_one_sentence(project: Path, args: list[str]) -> None:
    registry.open_project(project)
    result = await cli("mcp-config", *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("murmuration: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
