"""Reservation operations: agents say which paths and names they are working on, and check before they start."""

from __future__ import annotations

from typing import Any

from murmuration.contract import INVALID_PARAMS
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
    OperationError,
    OperationTable,
    alone,
    params_schema,
    result_schema,
)

# What reserve's release takes instead of an id to end every reservation of the caller's.
ALL = "all"
RESOURCES = {
    "type": "array",
    "items": {"type": "string", "maxLength": MAX_RESOURCE},
    "minItems": 1,
    "maxItems": 100,
    "description": "Path globs (src/db/**) or names (port:5432).",
}


def held(ctx: InstanceContext) -> list[dict[str, Any]]:
    """The reservations held now, each saying whether it is the caller's."""
    return [{**r.as_dict(), "yours": r.session_id == ctx.caller.session_id} for r in ctx.reservations.active()]


def ended(ctx: InstanceContext, reservation_id: str | None, field: str) -> dict[str, Any]:
    """End the caller's reservation `reservation_id`, or all of theirs (None); a refusal names `field`."""
    released = ctx.reservations.release(ctx.caller, reservation_id, field)
    return {"released": [r.id for r in released], "web_url": ctx.web_url("agents")}


def checked(ctx: InstanceContext, paths: list[str], exclusive: bool, field: str) -> dict[str, Any]:
    """Whose reservations `paths` fall under, for exclusive or shared use; free when none stands in the way."""
    wanted = resources(paths, field)
    clashes = ctx.reservations.conflicts(ctx.caller, wanted, exclusive)
    return {
        "free": not clashes,
        "paths": [{"path": r.text, "held_by": [c for c in clashes if c["resource"] == r.text]} for r in wanted],
        "web_url": ctx.web_url("agents"),
    }


def declare(table: OperationTable) -> None:
    """Add reserve, release, list_reservations and check_paths to `table`."""

    def linked(reservation: dict[str, Any], ctx: InstanceContext) -> dict[str, Any]:
        return {**reservation, "web_url": ctx.web_url("agents")}

    @table.operation(
        "reserve",
        "Reserve paths or names so other agents keep off (all or none) until release, your session or "
        "for_process ends, or ttl.",
        params_schema(
            {
                "resources": RESOURCES,
                "reason": {
                    "type": "string",
                    "maxLength": MAX_REASON,
                    "description": "Shown to others.",
                },
                "exclusive": {
                    "type": "boolean",
                    "default": True,
                    "description": "false: shared with other shared ones (true).",
                },
                "ttl": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_TTL,
                    "description": "Seconds it lasts.",
                },
                "for_process": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": "A process id it ends with.",
                },
                "check": {"type": "boolean", "description": "Only say who holds them."},
                "release": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 40,
                    "description": "End yours: an id (R3) or 'all'.",
                },
            },
        ),
        result=result_schema(
            {"id": STRING, "free": BOOLEAN, "released": {"type": "array", "items": STRING}}, "id", "free", "released"
        ),
        hints=ADDS,
    )
    async def reserve(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if "release" in params:
            alone(params, "release")
            which = params["release"]
            return ended(ctx, None if which == ALL else which, "release")
        if "resources" not in params:
            raise OperationError(
                "Give 'resources' to reserve or check, or 'release' to end a reservation.",
                INVALID_PARAMS,
                {"field": "resources"},
            )
        if params.get("check"):
            alone(params, "check", "resources", "exclusive")
            return checked(ctx, params["resources"], params.get("exclusive", True), "resources")
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
        merged_into="reserve",
    )
    async def release(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return ended(ctx, params.get("reservation_id"), "reservation_id")

    @table.operation(
        "list_reservations",
        "List the reservations held now: who holds which resources, shared or exclusive, why, and until when.",
        params_schema({}),
        result=result_schema({"reservations": OBJECTS}),
        hints=READS,
        merged_into="get_instance_info",
    )
    async def list_reservations(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"reservations": held(ctx), "web_url": ctx.web_url("agents")}

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
        merged_into="reserve",
    )
    async def check_paths(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return checked(ctx, params["paths"], params.get("exclusive", True), "paths")
