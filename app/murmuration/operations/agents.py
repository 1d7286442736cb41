"""Agent operations: who is connected, and naming one's own session."""

from __future__ import annotations

from typing import Any

from murmuration.core.agents import MAX_NAME
from murmuration.core.errors import Conflict
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import OperationTable, params_schema

AGENT_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "description": "The agent's name, e.g. claude-code; made unique among the agents connected now.",
}


def declare(table: OperationTable) -> None:
    """Add the agent operations to `table`."""

    @table.operation(
        "identify",
        "Name this connection's session (the MCP bridge does it for its agent). The name is made unique among "
        "the sessions connected now (claude-code, claude-code-2, …); the result says which one it got.",
        params_schema(
            {
                "name": AGENT_NAME,
                "client": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "The client program and its version, e.g. 'claude-code 1.0.3'.",
                },
                "pid": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 2**31,
                    "description": "The process id of the program on this connection.",
                },
                "resume": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_NAME + 12,
                    "description": "The name this client had before it reconnected; kept when still free.",
                },
            },
            required=("name",),
        ),
        for_agents=False,
    )
    async def identify(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        session = ctx.agents.get(ctx.caller.session_id) if ctx.caller.session_id else None
        if session is None:
            raise Conflict("Only a connection's own session can be named; connect to the instance first.", "name")
        ctx.agents.identify(session, params["name"], params.get("client"), params.get("pid"), params.get("resume"))
        return {**session.as_dict(), "web_url": ctx.web_url("agents")}

    @table.operation(
        "list_agents",
        "List who is connected to this instance now: each agent (and person at the dashboard) with its name, "
        "since when, its last call, and what it holds.",
        params_schema({}),
    )
    async def list_agents(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        sessions = [
            {**session.as_dict(), "you": session.id == ctx.caller.session_id} for session in ctx.agents.sessions()
        ]
        return {"agents": sessions, "web_url": ctx.web_url("agents")}
