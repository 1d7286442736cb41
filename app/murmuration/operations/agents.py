"""Agent operations: who is connected, and naming one's own session."""

from __future__ import annotations

from typing import Any

from murmuration.core.agents import MAX_NAME
from murmuration.core.errors import Conflict
from murmuration.core.process_records import as_dict as process_dict
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import OBJECTS, READS, OperationTable, params_schema, result_schema

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
        "Who is connected now (agents, and people at the dashboard): name, since when, last call, what they hold.",
        params_schema({}),
        result=result_schema({"agents": OBJECTS, "left": OBJECTS}),
        hints=READS,
        merged_into="get_instance_info",
    )
    async def list_agents(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {**connected(ctx), "web_url": ctx.web_url("agents")}


def connected(ctx: InstanceContext) -> dict[str, Any]:
    """Who is connected now, each with the issues, reservations and processes they hold; and the claims of
    agents who left."""
    claims: dict[str, list[dict[str, Any]]] = {}
    for issue in ctx.knowledge.issues.held():
        brief = {
            "id": issue["id"],
            "title": issue["title"],
            "status": issue["status"],
            "since": issue["assigned_at"],
        }
        claims.setdefault(issue["assignee"], []).append(brief)
    running: dict[str, list[dict[str, Any]]] = {}
    for row in ctx.processes.records.active_rows():
        process = process_dict(row)
        if process["started_by"] is not None:
            brief = {"id": process["id"], "title": process["title"], "state": process["state"]}
            running.setdefault(process["started_by"], []).append(brief)
    reservations = ctx.reservations.active()
    agents = []
    for session in ctx.agents.sessions():
        agents.append(
            {
                **session.as_dict(),
                "you": session.id == ctx.caller.session_id,
                "claims": claims.get(session.name, []),
                "reservations": [r.as_dict() for r in reservations if r.session_id == session.id],
                "processes": running.get(session.name, []),
            }
        )
    present = ctx.agents.names()
    # Claims whose holder is gone stay visible (and free for the next claim_issue) until someone takes them.
    left = [{"name": name, "claims": held} for name, held in sorted(claims.items()) if name not in present]
    return {"agents": agents, "left": left}
