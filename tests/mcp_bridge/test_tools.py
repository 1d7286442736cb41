"""The handshake and the tool list: every agent operation of the table, with its own name and JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from murmuration.mcp_bridge.tools import input_schema, listed_operations
from murmuration.operations import build_table
from tests.mcp_bridge.conftest import bridge, ok


async def test_initialize_names_the_bridge_and_its_instance(project: Path) -> None:
    async with bridge(project) as client:
        assert client.server_info is not None
        assert client.server_info.name == "murmuration"
        assert client.server_capabilities.tools is not None
        instructions = client.instructions or ""
        assert "'shop'" in instructions
        assert "web_url" in instructions
        assert all(step in instructions for step in ("list_issues", "start_process", "get_process_logs"))


@pytest.mark.parametrize(("mode", "era"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_tools_list_is_every_agent_operation_not_merged_into_another(project: Path, mode: str, era: str) -> None:
    table = build_table()
    expected = {op.name: op for op in listed_operations(table)}
    assert {op.name for op in table if op.for_agents and op.merged_into is None} == set(expected)
    async with bridge(project, mode=mode) as client:
        assert client.protocol_version == era
        tools = (await client.list_tools()).tools
        # Calls work in either protocol era (the initialize handshake, or 2026's per-request envelope).
        assert (await ok(client, "get_instance_info"))["name"] == "shop"
    assert [tool.name for tool in tools] == list(expected)
    for tool in tools:
        operation = expected[tool.name]
        assert tool.input_schema == input_schema(operation), tool.name
        assert tool.description is not None
        assert tool.description == operation.description


async def test_operations_for_people_only_are_not_tools(project: Path) -> None:
    hidden = {op.name for op in build_table() if not op.for_agents}
    assert {"shutdown", "create_login_code"} <= hidden
    async with bridge(project) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert not names & hidden
        # Not callable by name either: a hidden operation is an unknown tool, and the instance keeps running.
        for name in sorted(hidden):
            result = await client.call_tool(name, {})
            assert result.is_error
            assert f"no tool named {name!r}" in result.content[0].text  # type: ignore[union-attr]
        assert (await ok(client, "ping"))["pong"] is True
