"""The MCP tools, generated from the operation table: the same names and JSON Schemas, described for an agent."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from murmuration.mcp_bridge.results import EXCERPTED, FULL
from murmuration.operations import Operation, OperationTable


def agent_operations(table: OperationTable) -> list[Operation]:
    """The operations an agent may use, in table order (sign-in codes, shutdown and the like are left out)."""
    return [operation for operation in table if operation.for_agents]


def tool_for(operation: Operation) -> types.Tool:
    """The MCP tool of one operation: its name, its parameters' and its result's schemas as they are, what it does
    and what calling it does to the instance."""
    hints = operation.hints
    return types.Tool(
        name=operation.name,
        description=operation.description,
        input_schema=input_schema(operation),
        output_schema=operation.result,
        annotations=None
        if hints is None
        else types.ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


def input_schema(operation: Operation) -> dict[str, Any]:
    """The operation's parameters, plus the bridge's own `full` where a list comes back as excerpts."""
    if operation.name not in EXCERPTED:
        return operation.params
    return {**operation.params, "properties": {**operation.params["properties"], "full": FULL}}


def agent_tools(table: OperationTable) -> list[types.Tool]:
    """Every tool the bridge offers."""
    return [tool_for(operation) for operation in agent_operations(table)]
