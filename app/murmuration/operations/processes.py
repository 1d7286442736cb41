"""Process and queue operations: agents start commands, read their output, stop them, steer the queue."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from murmuration.contract import INVALID_PARAMS
from murmuration.core.log_reader import LogQuery
from murmuration.core.process_log import STREAMS
from murmuration.core.process_records import RESTART_POLICIES, STATES, StartRequest
from murmuration.core.processes import WaitFor
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import (
    BOOLEAN,
    INTEGER,
    OBJECTS,
    READS,
    REPLACES,
    SETS,
    STRING,
    Hints,
    OperationError,
    OperationTable,
    params_schema,
    result_schema,
)

PROCESS_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "The process's id."}
MAX_WAIT = 120
WAIT_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": MAX_WAIT,
    "default": 30,
    "description": "Seconds to wait at most; the process keeps running after.",
}
WAIT_LOG = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1000,
    "description": "A regular expression a line must match.",
}
WAIT_FOR_START = {
    "type": "object",
    "description": "Return once it is ready: {'log': REGEX} or {'port': true}.",
    "properties": {
        "log": WAIT_LOG,
        "port": {"type": "boolean", "const": True, "description": "Ready once it listens on a TCP port."},
        "timeout": WAIT_TIMEOUT,
    },
    "additionalProperties": False,
    "minProperties": 1,
}
ARG = {"type": "string", "maxLength": 32_768}
PROCESS = result_schema({"id": STRING, "name": STRING, "state": STRING})
QUEUE = result_schema({"paused": BOOLEAN, "pending": INTEGER, "running": INTEGER, "config": {"type": "object"}})
# A command can do anything the user can: nothing about it is read-only, repeatable or confined to the instance.
RUNS_A_COMMAND = Hints(read_only=False, destructive=True, idempotent=False, open_world=True)
# The queue's settings under the names the queue itself (and its `queue` events) uses.
CONFIG_FIELDS = {
    "max_concurrent": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Processes running at once."},
    "max_queue_size": {"type": "integer", "minimum": 1, "maximum": 10_000, "description": "Entries the queue holds."},
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 10, "description": "Retries of a failed start."},
    "retry_delay_ms": {
        "type": "integer",
        "minimum": 100,
        "maximum": 300_000,
        "description": "Milliseconds before the first retry.",
    },
    "retry_factor": {
        "type": "number",
        "minimum": 1,
        "maximum": 10,
        "description": "Each retry waits this many times longer than the last.",
    },
    "retry_max_delay_ms": {
        "type": "integer",
        "minimum": 100,
        "maximum": 3_600_000,
        "description": "The longest wait between retries, ms.",
    },
    "retry_on_exit": {"type": "boolean", "description": "Also retry processes that exit with an error."},
    "max_log_bytes": {
        "type": "integer",
        "minimum": 1 << 20,
        "maximum": 1 << 40,
        "description": "Log bytes kept on disk per process; the oldest lines are cut first.",
    },
}
# The original's spellings that do not become these names by camelCase → snake_case (maxConcurrent does).
OLD_CONFIG_NAMES = {
    "retryDelay": "retry_delay_ms",
    "retryMaxDelay": "retry_max_delay_ms",
    "maxLogSize": "max_log_bytes",
}


def pattern(text: str, field: str) -> re.Pattern[str]:
    """A compiled regular expression, or an error naming `field`."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise OperationError(
            f"Invalid parameter {field!r}: {text[:80]!r} is not a regular expression ({exc}).",
            INVALID_PARAMS,
            {"field": field},
        ) from None


def wait_spec(spec: dict[str, Any], field: str) -> WaitFor:
    """What to wait for, from a wait_for object (log or port, with a timeout)."""
    if ("log" in spec) == ("port" in spec):
        raise OperationError(
            f"{field} needs exactly one of 'log' (a regular expression) or 'port': true.",
            INVALID_PARAMS,
            {"field": field},
        )
    log = pattern(spec["log"], f"{field}.log") if "log" in spec else None
    return WaitFor(log=log, port=bool(spec.get("port")), timeout=float(spec.get("timeout", 30)))


def utc_stamp(text: str) -> str:
    """An ISO time in the log's own form (UTC, milliseconds, Z), so it compares with the log's stamps as text."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OperationError(
            f"Invalid parameter 'since': {text[:64]!r} is not an ISO 8601 time such as 2026-01-01T10:00:00Z.",
            INVALID_PARAMS,
            {"field": "since"},
        ) from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # a time without a zone is the user's local time
        moment = moment.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        # Within a day of year 1 or 9999, UTC falls outside what datetime holds: such a time is before (or after)
        # every line a log can have, so it is the first (or last) moment there is.
        moment = (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def port_request(value: bool | int | None) -> int | None:
    """None for no port, 0 for any free port, N for exactly N."""
    if value is None or value is False:
        return None
    return 0 if value is True else int(value)


def config_view(config: dict[str, Any]) -> dict[str, Any]:
    """The queue configuration: the settings set_queue_config takes, and whether the queue is paused."""
    return {name: config[name] for name in (*CONFIG_FIELDS, "paused")}


def declare(table: OperationTable) -> None:
    """Add the process and queue operations to `table`."""

    def with_link(ctx: InstanceContext, process: dict[str, Any]) -> dict[str, Any]:
        return {**ctx.processes.with_urls(process), "web_url": ctx.web_url("processes", process["id"])}

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
        "Run a command. It waits in the queue (highest priority first) until the concurrency limit "
        "has room, unless immediate. 'command' is a shell string or an argv list (or the original's "
        "script_name with args); it runs in the instance's folder unless cwd says otherwise. port: "
        "true leases a free port (PORT=N, {port}); wait_for returns once it is ready; restart brings "
        "it back when it ends. Ports it listens on show as 'urls'.",
        params_schema(
            {
                "command": {
                    "description": "A shell command string, or an argv list.",
                    "oneOf": [
                        {"type": "string", "minLength": 1, "maxLength": 32_768},
                        {"type": "array", "items": ARG, "minItems": 1, "maxItems": 1000},
                    ],
                },
                "script_name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 4096,
                    "description": "The program (the original's form, with 'args').",
                },
                "args": {
                    "type": "array",
                    "items": ARG,
                    "maxItems": 1000,
                    "description": "Arguments for 'script_name'.",
                },
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "A title to show."},
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "A short name to find it by.",
                },
                "cwd": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 4096,
                    "description": "Working directory, relative to the instance's own.",
                },
                "env_vars": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 32_768},
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                    "maxProperties": 200,
                    "description": "Extra environment variables (their values are never shown again).",
                },
                "priority": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                    "default": 5,
                    "description": "Queue priority, 10 first.",
                },
                "immediate": {
                    "type": "boolean",
                    "default": False,
                    "description": "Start now, past the queue (a failed start is not retried).",
                },
                "tty": {
                    "type": "boolean",
                    "default": True,
                    "description": "stdout on a pseudo-terminal (live, coloured output); false: pipes.",
                },
                "port": {
                    "description": "true: lease a free TCP port (PORT=N, {port}); a number: exactly that port.",
                    "oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 1024, "maximum": 65535}],
                },
                "wait_for": WAIT_FOR_START,
                "restart": {
                    "type": "string",
                    "enum": list(RESTART_POLICIES),
                    "default": "no",
                    "description": "Start it again when it ends: no, on-failure or always.",
                },
                "max_restarts": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "default": 5,
                    "description": "Restarts in a row (of runs under 5 minutes) before it is left failed.",
                },
            }
        ),
        result=PROCESS,
        hints=RUNS_A_COMMAND,
    )
    async def start_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if ("command" in params) == ("script_name" in params):
            raise OperationError(
                "Give either 'command' (a shell string or an argv list) or 'script_name' (with optional 'args'), "
                "not both or neither.",
                INVALID_PARAMS,
                {"field": "command"},
            )
        if "command" in params and "args" in params:
            raise OperationError(
                "'args' goes with 'script_name'; put them in 'command'.", INVALID_PARAMS, {"field": "args"}
            )
        command = params["command"] if "command" in params else [params["script_name"], *params.get("args", [])]
        wait = wait_spec(params["wait_for"], "wait_for") if "wait_for" in params else None
        port = port_request(params.get("port"))
        env = params.get("env_vars", {})
        command, cwd = ctx.processes.check(command, params.get("cwd"), env, port)
        shown = command if isinstance(command, str) else " ".join(command)
        first_word = command.split()[0] if isinstance(command, str) else command[0]
        request = StartRequest(
            command=command,
            title=params.get("title") or shown[:200],
            name=params.get("name") or first_word[:200],
            cwd=cwd,
            env=env,
            priority=params.get("priority", 5),
            immediate=params.get("immediate", False),
            tty=params.get("tty", True),
            port=port,
            restart=params.get("restart", "no"),
            max_restarts=params.get("max_restarts", 5),
            started_by=ctx.caller.name,
        )
        record = await ctx.processes.submit(request)
        if wait is not None:
            record = await ctx.processes.wait(record["id"], wait)
        return with_link(ctx, record)

    @table.operation(
        "list_processes",
        "Processes (running, queued and past), newest first. Filters apply before the limit; 'total' "
        "counts every match.",
        params_schema(
            {
                "status": {"type": "string", "enum": list(STATES), "description": "Only processes in this state."},
                "name": {"type": "string", "maxLength": 200, "description": "Text in the name or title."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50, "description": "At most."},
                "offset": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 1_000_000,
                    "default": 0,
                    "description": "How many to skip.",
                },
            }
        ),
        result=result_schema({"processes": {"type": "array", "items": PROCESS}, "total": INTEGER}),
        hints=READS,
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
        "One process: its state, pid, exit code or signal, attempts, times, leased port, the URLs it "
        "listens on, its restart policy.",
        params_schema({"process_id": PROCESS_ID}, required=("process_id",)),
        result=PROCESS,
        hints=READS,
    )
    async def get_process_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.records.get(params["process_id"]))

    @table.operation(
        "stop_process",
        "Stop a process: TERM to its whole process group, then KILL after timeout ms (at once with "
        "force). A queued one is cancelled instead.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "force": {"type": "boolean", "default": False, "description": "KILL at once, without TERM first."},
                "timeout": {
                    "type": "integer",
                    "minimum": 100,
                    "maximum": 60_000,
                    "default": 5000,
                    "description": "Milliseconds between TERM and KILL.",
                },
            },
            required=("process_id",),
        ),
        result=PROCESS,
        hints=REPLACES,
    )
    async def stop_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        process = await ctx.processes.stop(
            params["process_id"], params.get("force", False), params.get("timeout", 5000) / 1000
        )
        return with_link(ctx, process)

    @table.operation(
        "get_process_logs",
        "Numbered lines a process printed: the last ones, or only those after 'after' (the 'next' of "
        "an earlier call: a poll, empty while it is quiet), or from 'since'. grep keeps matching "
        "lines (with context lines); log_type keeps one stream (system: Murmuration's notes on "
        "starts, exits, signals). 'first' is the oldest line still kept on disk.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "lines": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10_000,
                    "default": 100,
                    "description": "How many lines (or matches, with grep) at most.",
                },
                "log_type": {"type": "string", "enum": list(STREAMS), "description": "Only this stream."},
                "after": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Only lines numbered above this (the 'next' of the last result).",
                },
                "since": {
                    "type": "string",
                    "format": "date-time",
                    "maxLength": 64,
                    "description": "Only lines printed from this time on, e.g. 2026-01-01T10:00:00Z.",
                },
                "grep": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "A regular expression."},
                "context": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "default": 0,
                    "description": "Lines to show before and after each grep match.",
                },
            },
            required=("process_id",),
        ),
        result=result_schema({"process_id": STRING, "lines": OBJECTS, "next": INTEGER, "first": INTEGER}),
        hints=READS,
    )
    async def get_process_logs(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        query = LogQuery(
            count=params.get("lines", 100),
            stream=params.get("log_type"),
            after=params.get("after"),
            since=utc_stamp(params["since"]) if "since" in params else None,
            pattern=pattern(params["grep"], "grep") if "grep" in params else None,
            context=params.get("context", 0),
        )
        page = await ctx.processes.logs(params["process_id"], query)
        max_bytes = ctx.processes.config.max_log_bytes
        result: dict[str, Any] = {
            "process_id": params["process_id"],
            "lines": [
                {**line.as_dict(), "match": True} if line.n in page.matches else line.as_dict() for line in page.lines
            ],
            "next": page.next,
            "first": page.first,
            "web_url": ctx.web_url("processes", params["process_id"]),
        }
        if page.first > 1:
            result["cut"] = (
                f"Lines before {page.first} were cut to keep this log under {max_bytes / 2**20:g} MB on disk."
            )
        if page.more:
            result["more"] = "The search stopped at its read limit; call again with after = next to go on."
        return result

    @table.operation(
        "wait_for_process",
        "Wait until a process is ready or ends: log (a line matches, earlier lines of its run "
        "included), port (it listens) or exit (the result has its exit code and last lines: run the "
        "tests and read the verdict in one call). At the timeout it returns, still running.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "log": WAIT_LOG,
                "port": {"type": "boolean", "const": True, "description": "Wait until it listens on a TCP port."},
                "exit": {"type": "boolean", "const": True, "description": "Wait until it ends."},
                "timeout": WAIT_TIMEOUT,
            },
            required=("process_id",),
        ),
        result=PROCESS,
        hints=READS,
    )
    async def wait_for_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if sum(key in params for key in ("log", "port", "exit")) != 1:
            raise OperationError(
                "Give exactly one of 'log' (a regular expression), 'port': true or 'exit': true.",
                INVALID_PARAMS,
                {"field": "log"},
            )
        what = WaitFor(
            log=pattern(params["log"], "log") if "log" in params else None,
            port=bool(params.get("port")),
            exit=bool(params.get("exit")),
            timeout=float(params.get("timeout", 30)),
        )
        return with_link(ctx, await ctx.processes.wait(params["process_id"], what))

    @table.operation(
        "get_queue_status",
        "The queue: paused or not, counts by state, its settings, and (include_entries) the waiting "
        "entries in start order, with their retries.",
        params_schema(
            {
                "include_entries": {"type": "boolean", "default": True, "description": "Also list the waiting."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100, "description": "At most."},
            }
        ),
        result=QUEUE,
        hints=READS,
    )
    async def get_queue_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = queue_summary(ctx)
        if params.get("include_entries", True):
            summary["entries"] = [with_link(ctx, p) for p in ctx.processes.records.queued(params.get("limit", 100))]
        return summary

    @table.operation(
        "set_queue_config",
        "Change the queue's settings; they apply at once. max_concurrent counts running processes; a "
        "retry waits retry_delay_ms, then retry_factor times longer each time, at most "
        "retry_max_delay_ms.",
        params_schema(CONFIG_FIELDS),
        result=QUEUE,
        hints=SETS,
        aliases=OLD_CONFIG_NAMES,
    )
    async def set_queue_config(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config(params)
        return queue_summary(ctx)

    @table.operation(
        "pause_queue",
        "Pause the queue: nothing queued starts until resume_queue.",
        params_schema({}),
        result=QUEUE,
        hints=SETS,
    )
    async def pause_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": True})
        return queue_summary(ctx)

    @table.operation("resume_queue", "Resume a paused queue.", params_schema({}), result=QUEUE, hints=SETS)
    async def resume_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": False})
        return queue_summary(ctx)

    @table.operation(
        "cancel_queued_process",
        "Cancel a process that is still queued (use stop_process for one that runs).",
        params_schema({"queue_id": PROCESS_ID}, required=("queue_id",)),
        result=PROCESS,
        hints=REPLACES,
    )
    async def cancel_queued_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.cancel(params["queue_id"]))
