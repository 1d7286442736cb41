"""Process and queue operations: agents start commands, read their output, stop them, steer the queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from murmuration.contract import INVALID_PARAMS
from murmuration.core.line_pattern import LinePattern
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
    UNLISTED,
    Hints,
    OperationError,
    OperationTable,
    alone,
    items_by_id,
    params_schema,
    result_schema,
)

PROCESS_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "A process id."}
MAX_WAIT = 120
WAIT_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": MAX_WAIT,
    "default": 30,
    "description": "Seconds, at most 120 (30).",
}
WAIT_LOG = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1000,
    "description": "A regex a line matches.",
}
WAIT_FOR_START: dict[str, Any] = {
    "type": "object",
    "description": "Return once ready: {'log': REGEX} or {'port': true}, with 'timeout' in s (30, ≤120).",
    "properties": {
        "log": WAIT_LOG,
        "port": {"type": "boolean", "const": True, "description": "Once it listens on TCP."},
        "timeout": WAIT_TIMEOUT,
    },
    "additionalProperties": False,
    "minProperties": 1,
}
# get_process_logs waits for what start_process can, and for the end: run the tests and read the verdict in one call.
WAIT_FOR_LOGS = {
    **WAIT_FOR_START,
    "description": "Wait first: {'exit': true}, {'log': REGEX} or {'port': true}, with 'timeout' in s (30).",
    "properties": {
        **WAIT_FOR_START["properties"],
        "exit": {"type": "boolean", "const": True, "description": "Until it ends."},
    },
}
ARG = {"type": "string", "maxLength": 32_768}
PROCESS = result_schema({"id": STRING, "name": STRING, "state": STRING})
QUEUE = result_schema({"paused": BOOLEAN, "pending": INTEGER, "running": INTEGER, "config": {"type": "object"}})
# A command can do anything the user can: nothing about it is read-only, repeatable or confined to the instance.
RUNS_A_COMMAND = Hints(read_only=False, destructive=True, idempotent=False, open_world=True)
# The queue's settings under the names the queue itself (and its `queue` events) uses.
CONFIG_FIELDS = {
    "max_concurrent": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Running at once, 1-50."},
    "max_queue_size": {
        "type": "integer",
        "minimum": 1,
        "maximum": 10_000,
        "description": "Entries it holds.",
        UNLISTED: True,
    },
    "max_retries": {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
        "description": "Retries of a failed start.",
        UNLISTED: True,
    },
    "retry_delay_ms": {
        "type": "integer",
        "minimum": 100,
        "maximum": 300_000,
        "description": "ms before the first retry.",
        UNLISTED: True,
    },
    "retry_factor": {
        "type": "number",
        "minimum": 1,
        "maximum": 10,
        "description": "Each retry waits this many times longer.",
        UNLISTED: True,
    },
    "retry_max_delay_ms": {
        "type": "integer",
        "minimum": 100,
        "maximum": 3_600_000,
        "description": "Longest wait between retries, ms.",
        UNLISTED: True,
    },
    "retry_on_exit": {"type": "boolean", "description": "Also retry failed exits.", UNLISTED: True},
    "max_log_bytes": {
        "type": "integer",
        "minimum": 1 << 20,
        "maximum": 1 << 40,
        "description": "Log bytes kept per process.",
        UNLISTED: True,
    },
}
# The original's spellings that do not become these names by camelCase → snake_case (maxConcurrent does).
OLD_CONFIG_NAMES = {
    "retryDelay": "retry_delay_ms",
    "retryMaxDelay": "retry_max_delay_ms",
    "maxLogSize": "max_log_bytes",
}


def wait_spec(spec: dict[str, Any], can_exit: bool = False, field: str = "wait_for") -> WaitFor:
    """What to wait for: one of log, port or (where `can_exit`) exit, with a timeout; from the object `field`, or
    (field "") from a call's own parameters."""
    if sum(key in spec for key in ("log", "port", "exit")) != 1:
        choices = "'log' (a regular expression), 'port': true or 'exit': true" if can_exit else "'log' or 'port': true"
        raise OperationError(
            f"Give exactly one of {choices}" + (f" in {field!r}." if field else "."),
            INVALID_PARAMS,
            {"field": field or "log"},
        )
    log = LinePattern(spec["log"], f"{field}.log" if field else "log") if "log" in spec else None
    return WaitFor(log=log, port="port" in spec, exit="exit" in spec, timeout=float(spec.get("timeout", 30)))


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


def queue_summary(ctx: InstanceContext) -> dict[str, Any]:
    """The queue: paused or not, how many wait and run, the counts by state, and its settings."""
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


def declare(table: OperationTable) -> None:
    """Add the process and queue operations to `table`."""

    def with_link(ctx: InstanceContext, process: dict[str, Any]) -> dict[str, Any]:
        return {**ctx.processes.with_urls(process), "web_url": ctx.web_url("processes", process["id"])}

    @table.operation(
        "start_process",
        "Run a command; it queues (by priority) for a free slot unless immediate. Ports it opens show as urls.",
        params_schema(
            {
                "command": {
                    "description": "A shell string or an argv list.",
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
                    UNLISTED: True,
                },
                "args": {
                    "type": "array",
                    "items": ARG,
                    "maxItems": 1000,
                    "description": "Arguments for 'script_name'.",
                    UNLISTED: True,
                },
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Shown title."},
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "Short name.",
                },
                "cwd": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 4096,
                    "description": "Folder (relative to the instance's).",
                },
                "env_vars": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 32_768},
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                    "maxProperties": 200,
                    "description": "Extra environment, e.g. {'DEBUG': '1'}.",
                },
                "priority": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                    "default": 5,
                    "description": "1-10, 10 first (5).",
                },
                "immediate": {
                    "type": "boolean",
                    "default": False,
                    "description": "Skip the queue (no retries).",
                },
                "tty": {
                    "type": "boolean",
                    "default": True,
                    "description": "false: pipes, not a terminal.",
                },
                "port": {
                    "description": "true: lease a free port ($PORT, {port}); N: port N.",
                    "oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 1024, "maximum": 65535}],
                },
                "wait_for": WAIT_FOR_START,
                "restart": {
                    "type": "string",
                    "enum": list(RESTART_POLICIES),
                    "default": "no",
                    "description": "Run it again when it ends.",
                },
                "max_restarts": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "default": 5,
                    "description": "Quick restarts before it stays failed (5).",
                    UNLISTED: True,
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
        wait = wait_spec(params["wait_for"]) if "wait_for" in params else None
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
        "Processes (running, queued, past), newest first, and the queue's state.",
        params_schema(
            {
                "ids": {
                    "type": "array",
                    "items": PROCESS_ID,
                    "maxItems": 100,
                    "description": "Just these.",
                },
                "status": {"type": "string", "enum": list(STATES), "description": "State."},
                "name": {"type": "string", "maxLength": 200, "description": "Text in the name or title."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000,
                    "default": 50,
                    "description": "At most (50).",
                },
                "offset": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 1_000_000,
                    "default": 0,
                    "description": "Skip this many.",
                },
            }
        ),
        result=result_schema({"processes": {"type": "array", "items": PROCESS}, "total": INTEGER}),
        hints=READS,
    )
    async def list_processes(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if "ids" in params:
            alone(params, "ids")
            processes = items_by_id(params["ids"], ctx.processes.records.get)
            total = len(processes)
        else:
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
        merged_into="list_processes",
    )
    async def get_process_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.records.get(params["process_id"]))

    @table.operation(
        "stop_process",
        "Stop a process: TERM, KILL after timeout; a queued one is cancelled.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "force": {"type": "boolean", "default": False, "description": "KILL at once."},
                "timeout": {
                    "type": "integer",
                    "minimum": 100,
                    "maximum": 60_000,
                    "default": 5000,
                    "description": "ms from TERM to KILL (5000).",
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
        "A process's numbered output lines: the last ones, those after 'after', or from 'since'.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "lines": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10_000,
                    "default": 100,
                    "description": "At most (100).",
                },
                "log_type": {
                    "type": "string",
                    "enum": list(STREAMS),
                    "description": "One stream (system: Murmuration's).",
                },
                "after": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The last result's 'next'.",
                },
                "since": {
                    "type": "string",
                    "format": "date-time",
                    "maxLength": 64,
                    "description": "e.g. 2026-01-01T10:00:00Z.",
                },
                "grep": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "A regex lines match."},
                "context": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "default": 0,
                    "description": "Lines around each match.",
                },
                "wait_for": WAIT_FOR_LOGS,
            },
            required=("process_id",),
        ),
        result=result_schema({"process_id": STRING, "lines": OBJECTS, "next": INTEGER, "first": INTEGER}),
        hints=READS,
    )
    async def get_process_logs(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        # The page asked for is checked before any wait, so a bad 'since' or 'grep' is refused at once.
        query = LogQuery(
            count=params.get("lines", 100),
            stream=params.get("log_type"),
            after=params.get("after"),
            since=utc_stamp(params["since"]) if "since" in params else None,
            pattern=LinePattern(params["grep"], "grep") if "grep" in params else None,
            context=params.get("context", 0),
        )
        waited = None
        if "wait_for" in params:
            waited = await ctx.processes.wait(params["process_id"], wait_spec(params["wait_for"], can_exit=True))
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
        if waited is not None:
            # The lines are the page's; the wait says how it ended, and the process in what state.
            wait = {k: v for k, v in waited["wait"].items() if k not in ("line", "last_lines")}
            result.update(state=waited["state"], exit_code=waited["exit_code"], wait=wait)
        return result

    @table.operation(
        "wait_for_process",
        "Wait until a process logs a line (log), listens (port) or ends (exit: the result has its exit code "
        "and last lines); at the timeout it returns, still running.",
        params_schema(
            {
                "process_id": PROCESS_ID,
                "log": WAIT_LOG,
                "port": {"type": "boolean", "const": True, "description": "Until it listens on TCP."},
                "exit": {"type": "boolean", "const": True, "description": "Until it ends."},
                "timeout": WAIT_TIMEOUT,
            },
            required=("process_id",),
        ),
        result=PROCESS,
        hints=READS,
        merged_into="get_process_logs",
    )
    async def wait_for_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        what = wait_spec(params, can_exit=True, field="")
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
        merged_into="get_instance_info",
    )
    async def get_queue_status(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = queue_summary(ctx)
        if params.get("include_entries", True):
            summary["entries"] = [with_link(ctx, p) for p in ctx.processes.records.queued(params.get("limit", 100))]
        return summary

    @table.operation(
        "set_queue_config",
        "Pause or resume the queue, or change how many run at once; it applies at once.",
        params_schema({**CONFIG_FIELDS, "paused": {"type": "boolean", "description": "true: start nothing queued."}}),
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
        merged_into="set_queue_config",
    )
    async def pause_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": True})
        return queue_summary(ctx)

    @table.operation(
        "resume_queue",
        "Resume a paused queue.",
        params_schema({}),
        result=QUEUE,
        hints=SETS,
        merged_into="set_queue_config",
    )
    async def resume_queue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.processes.set_config({"paused": False})
        return queue_summary(ctx)

    @table.operation(
        "cancel_queued_process",
        "Cancel a process that is still queued (use stop_process for one that runs).",
        params_schema({"queue_id": PROCESS_ID}, required=("queue_id",)),
        result=PROCESS,
        hints=REPLACES,
        merged_into="stop_process",
    )
    async def cancel_queued_process(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.processes.cancel(params["queue_id"]))
