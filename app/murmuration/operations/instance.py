"""Operations about the instance itself: who it is, where its dashboard is, sign-in and shutdown."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any

from murmuration.core.errors import Damaged
from murmuration.login_codes import CODE_LIFETIME
from murmuration.operations import agents, processes, reservations
from murmuration.operations.context import VIEWS, InstanceContext
from murmuration.operations.table import (
    BOOLEAN,
    OBJECTS,
    READS,
    STRING,
    OperationTable,
    params_schema,
    result_schema,
)

# The names Python goes by, in the order a person would type them (Windows has `python` and the `py` launcher;
# many Linux systems and macOS have only `python3`).
PYTHON_NAMES = ("python", "py", "python3") if sys.platform == "win32" else ("python3", "python")


def _queue(ctx: InstanceContext) -> dict[str, Any]:
    return {"queue": {k: v for k, v in processes.queue_summary(ctx).items() if k != "web_url"}}


# What get_instance_info can add to its answer: the instance's state an agent reads before it acts, one call.
SECTIONS: dict[str, Callable[[InstanceContext], dict[str, Any]]] = {
    "milestone": lambda ctx: {"milestone": ctx.knowledge.milestone.get()},
    "agents": agents.connected,
    "reservations": lambda ctx: {"reservations": reservations.held(ctx)},
    "queue": _queue,
}


def python_on_path() -> str | None:
    """The name the instance's processes can run Python by, as found on the PATH they inherit (None: none)."""
    return next((name for name in PYTHON_NAMES if shutil.which(name)), None)


def declare(table: OperationTable) -> None:
    """Add the instance operations to `table`."""

    @table.operation(
        "get_instance_info",
        "This instance: id, name, URL, its processes' folder and python, what a crash cut short.",
        params_schema(
            {
                "include": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(SECTIONS)},
                    "maxItems": len(SECTIONS),
                    "description": "Add the milestone, agents (who is on, holding what), reservations, queue.",
                }
            }
        ),
        result=result_schema(
            {
                "id": STRING,
                "name": STRING,
                "version": STRING,
                "url": STRING,
                "milestone": {"type": ["object", "null"]},
                "agents": OBJECTS,
                "reservations": OBJECTS,
                "queue": {"type": "object"},
            },
            *SECTIONS,
        ),
        hints=READS,
    )
    async def get_instance_info(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        for section in params.get("include", ()):
            sections.update(SECTIONS[section](ctx))
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
            "python": python_on_path(),
            "recovered": ctx.processes.recovered,
            **sections,
            "web_url": ctx.web_url(),
        }

    @table.operation(
        "ping",
        "Check that this instance answers; returns at once.",
        params_schema({}),
        result=result_schema({"pong": BOOLEAN}),
        hints=READS,
        merged_into="get_instance_info",
    )
    async def ping(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        # Who answers, so a caller can tell a server that really owns the data folder from a forged runtime file.
        return {"pong": True, "instance": ctx.info.id, "pid": ctx.pid, "web_url": ctx.web_url()}

    @table.operation(
        "get_web_ui_url",
        "A link to this instance's dashboard, at one view or one item (e.g. view 'issues', item 'ISSUE_3').",
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
        result=result_schema({"url": STRING}),
        hints=READS,
        merged_into="get_instance_info",
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
