"""Process and queue operations: agents start commands, read their output, stop them, steer the queue."""

from __future__ import annotations

from typing import Any

from murmuration.contract import INVALID_PARAMS
from murmuration.core.process_log import STREAMS
from murmuration.core.process_records import STATES, StartRequest
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import OperationError, OperationTable, params_schema

PROCESS_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "The process's id."}
ARG = {"type": "string", "maxLength": 32_768}
CONFIG_FIELDS = {
    "maxConcurrent": ("max_concurrent", {"type": "integer", "minimum": 1, "maximum": 50}),
    "maxQueueSize": ("max_queue_size", {"type": "integer", "minimum": 1, "maximum": 10_000}),
    "maxRetries": ("max_retries", {"type": "integer", "minimum": 0, "maximum": 10}),
    "retryDelay": ("retry_delay_ms", {"type": "integer", "minimum": 100, "maximum": 300_000}),
    "retryFactor": ("retry_factor", {"type": "number", "minimum": 1, "maximum": 10}),
    "retryMaxDelay": ("retry_max_delay_ms", {"type": "integer", "minimum": 100, "maximum": 3_600_000}),
    "retryOnExit": ("retry_on_exit", {"type": "boolean"}),
}


def config_view(config: dict[str, Any]) -> dict[str, Any]:
    """The queue configuration under the parameter names of set_queue_config."""
    view = {name: config[key] for name, (key, _) in CONFIG_FIELDS.items()}
    return {**view, "paused": config["paused"]}


def declare(table: OperationTable) -> None:
    """Add the process and queue operations to `table`."""

    def with_link(ctx: InstanceContext, process: dict[str, Any]) -> dict[str, Any]:
        return {**process, "web_url": ctx.web_url("processes", process["id"])}

    def queue_summary(ctx: InstanceContext) -> dict[str, Any]:
        manager = ctx.processes
        counts = manager.records.counts()
        return {
            "paused": manager.config.paused,
            "pending": counts["queued"],
            "waiting_retry": counts["waiting_retry"],
            "running": counts["starting"] + counts["running"] + counts["stopping"],
            "counts": counts,
            "config": config_view(manager.config.as_dict()),
            "web_url": ctx.web_url("queue"),
        }

    @table.operation(
        "start_process",
        "Start a command: queued by priority (1–10, highest first) until the concurrency limit has room, or at "
        "once with immediate. Give the command as an argv list ('command'), or as 'script_name' plus 'args'. "
        "It runs in the instance's working directory unless 'cwd' says otherwise.",
        params_schema(
            {
                "command": {"type": "array", "items": ARG, "minItems": 1, "maxItems": 1000},
                "script_name": {"type": "string", "minLength": 1, "maxLength": 4096},
                "args": {"type": "array", "items": ARG, "maxItems": 1000},
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "cwd": {"type": "string", "minLength": 1, "maxLength": 4096},
                "env_vars": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 32_768},
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                    "maxProperties": 200,
                },
                "priority": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
                "immediate": {"type": "boolean", "default": False},
            }
        ),
    )
    async def start_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if ("command" in params) == ("script_name" in params):
            raise OperationError(
                "Give either 'command' (an argv list) or 'script_name' (with optional 'args'), not both or neither.",
                INVALID_PARAMS,
                {"field": "command"},
            )
        if "command" in params and "args" in params:
            raise OperationError(
                "'args' goes with 'script_name'; put them in 'command'.", INVALID_PARAMS, {"field": "args"}
            )
        argv = params.get("command") or [params["script_name"], *params.get("args", [])]
        env = params.get("env_vars", {})
        argv, cwd = ctx.processes.check(argv, params.get("cwd"), env)
        title = params.get("title") or " ".join(argv)[:200]
        request = StartRequest(
            argv=argv,
            title=title,
            name=params.get("name") or argv[0][:200],
            cwd=cwd,
            env=env,
            priority=params.get("priority", 5),
            immediate=params.get("immediate", False),
            started_by=ctx.caller.name,
        )
        return with_link(ctx, await ctx.processes.submit(request))

    @table.operation(
        "list_processes",
        "List processes (running, queued and past), newest first. Filters (state, and name or title containing "
        "'name') apply before the limit; 'total' counts every match.",
        params_schema(
            {
                "status": {"type": "string", "enum": list(STATES)},
                "name": {"type": "string", "maxLength": 200},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                "offset": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
            }
        ),
    )
    async def list_processes(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        processes, total = ctx.processes.records.query(
            params.get("status"), params.get("name"), params.get("limit", 50), params.get("offset", 0)
        )
        return {
            "processes": [with_link(ctx, p) for p in processes],
            "total": total,
            "queue": {k: v for k, v in queue_summary(ctx).items() if k in ("paused", "pending", "running")},
            "web_url": ctx.web_url("processes"),
        }

    @table.operation(
        "get_process_status",
        "Get one process: its state (queued, starting, running, stopping, stopped, failed, interrupted, "
        "cancelled), pid, exit code or signal, attempts and times.",
        params_schema({"process_id": PROCESS_ID}, required=("process_id",)),
    )
    async def get_process_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.records.get(params["process_id"]))

    @table.operation(
        "stop_process",
        "Stop a process: TERM to its whole process group, then KILL after 'timeout' ms (or KILL at once with "
        "force). A queued process is cancelled instead. The result is its final state, 'stopped'.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "force": {"type": "boolean", "default": False},
                "timeout": {"type": "integer", "minimum": 100, "maximum": 60_000, "default": 5000},
            },
            required=("process_id",),
        ),
    )
    async def stop_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        process = await ctx.processes.stop(
            params["process_id"], params.get("force", False), params.get("timeout", 5000) / 1000
        )
        return with_link(ctx, process)

    @table.operation(
        "get_process_logs",
        "Get the last lines a process printed (default 100), optionally of one stream: stdout, stderr or "
        "system (Murmuration's own notes: starts, exits, signals). The whole output is kept.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "lines": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100},
                "log_type": {"type": "string", "enum": list(STREAMS)},
            },
            required=("process_id",),
        ),
    )
    async def get_process_logs(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        lines = ctx.processes.logs(params["process_id"], params.get("lines", 100), params.get("log_type"))
        return {
            "process_id": params["process_id"],
            "lines": [line.as_dict() for line in lines],
            "web_url": ctx.web_url("processes", params["process_id"]),
        }

    @table.operation(
        "get_queue_status",
        "Get the queue: whether it is paused, counts by state, its configuration and (with include_entries) the "
        "waiting entries in the order they will start, with retries and next attempt times.",
        params_schema(
            {
                "include_entries": {"type": "boolean", "default": True},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            }
        ),
    )
    async def get_queue_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = queue_summary(ctx)
        if params.get("include_entries", True):
            summary["entries"] = [with_link(ctx, p) for p in ctx.processes.records.queued(params.get("limit", 100))]
        return summary

    @table.operation(
        "set_queue_config",
        "Change the queue's settings; they apply at once. maxConcurrent counts running processes; retries wait "
        "retryDelay ms, then retryFactor times longer each time, at most retryMaxDelay ms; retryOnExit also "
        "retries processes that exit with an error, not only those that fail to start.",
        params_schema({name: schema for name, (_, schema) in CONFIG_FIELDS.items()}),
    )
    async def set_queue_config(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({CONFIG_FIELDS[name][0]: value for name, value in params.items()})
        return queue_summary(ctx)

    @table.operation("pause_queue", "Pause the queue: nothing queued starts until resume_queue.", params_schema({}))
    async def pause_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": True})
        return queue_summary(ctx)

    @table.operation("resume_queue", "Resume a paused queue.", params_schema({}))
    async def resume_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": False})
        return queue_summary(ctx)

    @table.operation(
        "cancel_queued_process",
        "Cancel a process that is still queued (use stop_process for one that runs).",
        params_schema({"queue_id": PROCESS_ID}, required=("queue_id",)),
    )
    async def cancel_queued_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.cancel(params["queue_id"]))
