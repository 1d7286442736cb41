"""Reservation operations: agents say which paths and names they are working on, and check before they start."""

from __future__ import annotations

from typing import Any

from murmuration.core.errors import Conflict
from murmuration.core.reservations import ENDED_STATES, MAX_REASON, MAX_TTL, resources
from murmuration.core.resources import MAX_RESOURCE
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import (
    ADDS,
    BOOLEAN,
    OBJECTS,
    READS,
    SETS,
    STRING,
    OperationTable,
    params_schema,
    result_schema,
)

RESOURCES = {
    "type": "array",
    "items": {"type": "string", "maxLength": MAX_RESOURCE},
    "minItems": 1,
    "maxItems": 100,
    "description": "Path globs under the working directory (src/db/**; a plain path covers what is "
    "beneath it) or names like port:5432.",
}


def declare(table: OperationTable) -> None:
    """Add reserve, release, list_reservations and check_paths to `table`."""

    def linked(reservation: dict[str, Any], ctx: InstanceContext) -> dict[str, Any]:
        return {**reservation, "web_url": ctx.web_url("agents")}

    @table.operation(
        "reserve",
        "Reserve paths or names before working on them, so other agents keep off: all are granted or "
        "none (a refusal names each clash's holder). An exclusive reservation (the default) coexists "
        "with nothing overlapping, a shared one with shared ones. It ends on release, with your "
        "session, with for_process, or after ttl seconds.",
        params_schema(
            {
                "resources": RESOURCES,
                "reason": {
                    "type": "string",
                    "maxLength": MAX_REASON,
                    "description": "What you are doing with them, shown to others.",
                },
                "exclusive": {
                    "type": "boolean",
                    "default": True,
                    "description": "false: shared (e.g. for reading), coexisting with other shared ones.",
                },
                "ttl": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_TTL,
                    "description": "Seconds after which it ends by itself; none by default.",
                },
                "for_process": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": "A process id: the reservation ends when that process does.",
                },
            },
            required=("resources",),
        ),
        result=result_schema({"id": STRING}),
        hints=ADDS,
    )
    async def reserve(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        process_id = params.get("for_process")
        if process_id is not None:
            state = ctx.processes.records.row(process_id, "for_process")["state"]
            if state in ENDED_STATES:
                raise Conflict(f"Process {process_id} has already ended ({state}); reserve without it.", "for_process")
        granted = ctx.reservations.reserve(
            ctx.caller,
            params["resources"],
            params.get("reason", ""),
            params.get("exclusive", True),
            params.get("ttl"),
            process_id,
        )
        return linked(granted.as_dict(), ctx)

    @table.operation(
        "release",
        "End a reservation of yours by id, or all of yours when no id is given.",
        params_schema(
            {
                "reservation_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 40,
                    "description": "The reservation to end, e.g. R3; none: all of yours.",
                }
            }
        ),
        result=result_schema({"released": {"type": "array", "items": STRING}}),
        hints=SETS,
    )
    async def release(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ended = ctx.reservations.release(ctx.caller, params.get("reservation_id"))
        return {"released": [r.id for r in ended], "web_url": ctx.web_url("agents")}

    @table.operation(
        "list_reservations",
        "List the reservations held now: who holds which resources, shared or exclusive, why, and until when.",
        params_schema({}),
        result=result_schema({"reservations": OBJECTS}),
        hints=READS,
    )
    async def list_reservations(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        held = [{**r.as_dict(), "yours": r.session_id == ctx.caller.session_id} for r in ctx.reservations.active()]
        return {"reservations": held, "web_url": ctx.web_url("agents")}

    @table.operation(
        "check_paths",
        "Whose reservations these paths (or names) fall under; 'free' is true when nothing stands in your way.",
        params_schema(
            {
                "paths": {**RESOURCES, "description": "The files, folders, globs or names to check."},
                "exclusive": {
                    "type": "boolean",
                    "default": True,
                    "description": "Check for exclusive use (the default); false: for shared use.",
                },
            },
            required=("paths",),
        ),
        result=result_schema({"free": BOOLEAN, "paths": OBJECTS}),
        hints=READS,
    )
    async def check_paths(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = resources(params["paths"], "paths")
        clashes = ctx.reservations.conflicts(ctx.caller, wanted, params.get("exclusive", True))
        return {
            "free": not clashes,
            "paths": [{"path": r.text, "held_by": [c for c in clashes if c["resource"] == r.text]} for r in wanted],
            "web_url": ctx.web_url("agents"),
        }
