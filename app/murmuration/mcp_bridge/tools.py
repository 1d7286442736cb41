"""The MCP tools, generated from the operation table: the same names and JSON Schemas, described for an agent."""

from __future__ import annotations

import mcp_types as types

from murmuration.operations import Operation, OperationTable

RESULT_NOTE = (
    " The result is JSON; its web_url opens this in the instance's dashboard — hand it to the person you work for."
)


def agent_operations(table: OperationTable) -> list[Operation]:
    """The operations an agent may use, in table order (sign-in codes, shutdown and the like are left out)."""
    return [operation for operation in table if operation.for_agents]


def tool_for(operation: Operation) -> types.Tool:
    """The MCP tool of one operation: its name, its parameters' schema as is, and what it does."""
    return types.Tool(
        name=operation.name,
        title=operation.name.replace("_", " ").capitalize(),
        description=operation.description + RESULT_NOTE,
        input_schema=operation.params,
    )


def agent_tools(table: OperationTable) -> list[types.Tool]:
    """Every tool the bridge offers."""
    return [tool_for(operation) for operation in agent_operations(table)]
