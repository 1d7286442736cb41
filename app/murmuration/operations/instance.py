"""Operations about the instance itself: who it is, where its dashboard is, sign-in and shutdown."""

from __future__ import annotations

from typing import Any

from murmuration.core.errors import Damaged
from murmuration.login_codes import CODE_LIFETIME
from murmuration.operations.context import VIEWS, InstanceContext
from murmuration.operations.table import OperationTable, params_schema


def declare(table: OperationTable) -> None:
    """Add the instance operations to `table`."""

    @table.operation(
        "get_instance_info",
        "Tell which Murmuration instance this is: its id, name, version, process id, port, URL, the project "
        "folder its processes run in (cwd), and which processes this start found cut short by a crash "
        "(recovered: interrupted for good, or restarted by their policy).",
        params_schema({}),
    )
    async def get_instance_info(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": ctx.info.id,
            "name": ctx.info.name,
            "version": ctx.version,
            "pid": ctx.pid,
            "port": ctx.port,
            "url": ctx.url,
            "started_at": ctx.started_at,
            # The sentence to show while the data is damaged (the instance is read-only then), else null.
            "damaged": Damaged.sentence(ctx.info.id) if ctx.knowledge.store.damage is not None else None,
            "cwd": ctx.info.cwd,
            "recovered": ctx.processes.recovered,
            "web_url": ctx.web_url(),
        }

    @table.operation(
        "ping",
        "Check that this instance answers; returns at once.",
        params_schema({}),
    )
    async def ping(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        # Who answers, so a caller can tell a server that really owns the data folder from a forged runtime file.
        return {"pong": True, "instance": ctx.info.id, "pid": ctx.pid, "web_url": ctx.web_url()}

    @table.operation(
        "get_web_ui_url",
        "Get the link to this instance's dashboard, optionally opened at one view "
        "(processes, queue, issues, knowledge) or at one item of it, e.g. view 'issues' and item 'ISSUE_3'.",
        params_schema(
            {
                "view": {"type": "string", "enum": list(VIEWS), "description": "Which view to open."},
                "item": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "An id within the view, e.g. ISSUE_3 or a process id.",
                },
            },
            dependentRequired={"item": ["view"]},
        ),
    )
    async def get_web_ui_url(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        link = ctx.web_url(params.get("view"), params.get("item"))
        return {"url": ctx.url, "web_url": link}

    @table.operation(
        "create_login_code",
        "Make a one-time sign-in link for a browser; it works once, for two minutes.",
        params_schema({}),
        for_agents=False,
    )
    async def create_login_code(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        code = ctx.login_codes.issue()
        return {
            "code": code,
            "login_url": f"{ctx.url}login?code={code}",
            "expires_in": CODE_LIFETIME,
            "web_url": ctx.web_url(),
        }

    @table.operation(
        "list_sessions",
        "Tell how many browsers are signed in to the dashboard and when each last used it.",
        params_schema({}),
        for_agents=False,
    )
    async def list_sessions(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {**ctx.sessions.summary(), "web_url": ctx.web_url()}

    @table.operation(
        "revoke_sessions",
        "Sign every browser out of the dashboard at once; their open pages are disconnected and must sign in again.",
        params_schema({}),
        for_agents=False,
    )
    async def revoke_sessions(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"revoked": ctx.sessions.revoke_all(), "web_url": ctx.web_url()}

    @table.operation(
        "shutdown",
        "Stop this instance gracefully.",
        params_schema({}),
        for_agents=False,
    )
    async def shutdown(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.request_shutdown()
        return {"stopping": True, "web_url": ctx.web_url()}
