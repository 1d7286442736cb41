"""The processes table of state.db: every process's request, state and outcome, and the queue's order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from murmuration.core import clock
from murmuration.core.errors import Conflict, NotFound
from murmuration.core.events import EventBus
from murmuration.core.store import Store

ACTIVE = ("starting", "running", "stopping")
FINAL = ("stopped", "failed", "interrupted", "cancelled")
STATES = ("queued", *ACTIVE, *FINAL)
_ACTIVE_SQL = "state IN ('starting', 'running', 'stopping')"


RESTART_POLICIES = ("no", "on-failure", "always")


@dataclass
class StartRequest:
    """What `start_process` asks for, checked."""

    command: str | list[str]  # a string runs in the platform's shell, a list as argv exactly
    title: str
    name: str
    cwd: str
    env: dict[str, str]
    priority: int = 5
    immediate: bool = False
    tty: bool = True
    port: int | None = None  # None: no port; 0: any free port; N: exactly N
    restart: str = "no"
    max_restarts: int = 5
    started_by: str | None = None


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_dict(row: Any) -> dict[str, Any]:
    """A process as clients see it (a running process's discovered `urls` are added by the manager)."""
    return {
        "id": row["id"],
        "title": row["title"],
        "name": row["name"],
        "command": json.loads(row["argv"]),
        "cwd": row["cwd"],
        "env_vars": sorted(json.loads(row["env"])),  # names only: values may be secrets
        "priority": row["priority"],
        "tty": bool(row["tty"]),
        "port": row["port"],
        "restart": row["restart"],
        "max_restarts": row["max_restarts"],
        "restarts": row["restarts"],
        "interrupted": row["interrupted"],
        "state": row["state"],
        "attempts": row["attempts"],
        "next_attempt_at": _iso(row["next_attempt_at"]),
        "pid": row["pid"],
        "exit_code": row["exit_code"],
        "signal": row["signal"],
        "error": row["error"],
        "queued_at": row["queued_at"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "started_by": row["started_by"],
    }


class ProcessRecords:
    """Reads and writes process rows; every change of state is one transaction and one `process` event."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events
        # Called with the record whenever a process reaches a final state (reservations tied to it end, say).
        self.on_final: list[Callable[[dict[str, Any]], None]] = []
        # Adds what only the running server knows (a process's URLs) to the record an event carries.
        self.decorate: Callable[[dict[str, Any]], dict[str, Any]] = lambda record: record

    def row(self, process_id: str, field: str = "process_id") -> Any:
        row = self.store.db.execute("SELECT * FROM processes WHERE id = ?", (process_id,)).fetchone()
        if row is None:
            raise NotFound(f"No process has the id {process_id[:60]!r}; list_processes shows them.", field)
        return row

    def get(self, process_id: str) -> dict[str, Any]:
        return as_dict(self.row(process_id))

    def update(self, process_id: str, **values: Any) -> dict[str, Any]:
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.store.transaction() as db:
            db.execute(f"UPDATE processes SET {assignments} WHERE id = ?", (*values.values(), process_id))
        record = self.decorate(self.get(process_id))
        self.events.publish("process", action="state", id=process_id, state=record["state"], process=record)
        if "state" in values and record["state"] in FINAL:
            for listener in self.on_final:
                listener(record)
        return record

    def insert(self, process_id: str, request: StartRequest, max_queued: int | None) -> dict[str, Any]:
        """Record a new queued process (an immediate one as starting); Conflict when `max_queued` are waiting."""
        with self.store.transaction() as db:
            queued = db.execute("SELECT COUNT(*) FROM processes WHERE state = 'queued'").fetchone()[0]
            if max_queued is not None and queued >= max_queued:
                raise Conflict(
                    f"The queue is full ({max_queued} waiting); wait, cancel some, or raise max_queue_size "
                    "with set_queue_config.",
                    "immediate",
                )
            db.execute(
                "INSERT INTO processes (id, title, name, argv, cwd, env, priority, state, queued_at, tty, want_port, "
                "restart, max_restarts, started_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    process_id,
                    request.title,
                    request.name,
                    json.dumps(request.command),
                    request.cwd,
                    json.dumps(request.env),
                    request.priority,
                    # An immediate start is never left queued: if it fails, nothing may pick it up later.
                    "starting" if request.immediate else "queued",
                    clock.now(),
                    int(request.tty),
                    request.port,
                    request.restart,
                    request.max_restarts,
                    request.started_by,
                ),
            )
        record = self.decorate(self.get(process_id))
        self.events.publish("process", action="queued", id=process_id, state=record["state"], process=record)
        return record

    def query(self, state: str | None, name: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Processes newest first, filtered by state and name (case-insensitive part) before the limit."""
        where: list[str] = ["1"]
        args: list[Any] = []
        if state:
            where.append("state = ?")
            args.append(state)
        if name:
            where.append("(instr(lower(name), lower(?)) > 0 OR instr(lower(title), lower(?)) > 0)")
            args += [name, name]
        condition = " AND ".join(where)
        total = self.store.db.execute(f"SELECT COUNT(*) FROM processes WHERE {condition}", args).fetchone()[0]
        rows = self.store.db.execute(
            f"SELECT * FROM processes WHERE {condition} ORDER BY seq DESC LIMIT ? OFFSET ?", [*args, limit, offset]
        ).fetchall()
        return [as_dict(r) for r in rows], int(total)

    def active_rows(self) -> list[Any]:
        return self.store.db.execute(f"SELECT * FROM processes WHERE {_ACTIVE_SQL}").fetchall()

    def active_count(self) -> int:
        """Processes starting, running or stopping: what the concurrency limit counts."""
        return int(self.store.db.execute(f"SELECT COUNT(*) FROM processes WHERE {_ACTIVE_SQL}").fetchone()[0])

    def ready(self, slots: int) -> list[str]:
        """The ids of up to `slots` queued processes due now: highest priority first, FIFO within one."""
        rows = self.store.db.execute(
            "SELECT id FROM processes WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY priority DESC, seq LIMIT ?",
            (time.time(), slots),
        ).fetchall()
        return [r["id"] for r in rows]

    def next_due(self) -> float | None:
        """Seconds until the earliest retry falls due, or None when none waits."""
        row = self.store.db.execute(
            "SELECT MIN(next_attempt_at) FROM processes WHERE state = 'queued' AND next_attempt_at > ?", (time.time(),)
        ).fetchone()
        return None if row[0] is None else max(0.0, row[0] - time.time())

    def counts(self) -> dict[str, int]:
        """How many processes are in each state (never negative: each is counted once, where it is)."""
        rows = self.store.db.execute("SELECT state, COUNT(*) AS n FROM processes GROUP BY state").fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update({r["state"]: r["n"] for r in rows})
        waiting = self.store.db.execute(
            "SELECT COUNT(*) FROM processes WHERE state = 'queued' AND next_attempt_at > ?", (time.time(),)
        ).fetchone()[0]
        return {**counts, "waiting_retry": int(waiting)}

    def queued(self, limit: int) -> list[dict[str, Any]]:
        """The queue in the order it will run (ready entries first, then those waiting to retry)."""
        rows = self.store.db.execute(
            "SELECT * FROM processes WHERE state = 'queued' "
            "ORDER BY (next_attempt_at IS NOT NULL AND next_attempt_at > ?), priority DESC, seq LIMIT ?",
            (time.time(), limit),
        ).fetchall()
        return [as_dict(r) for r in rows]

    def set_aside_found_work(self) -> int:
        """Cancel every process that has not ended, untouched: work found in a data folder that this user's
        Murmuration did not make is never run, resumed or signalled. Returns how many were set aside."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "UPDATE processes SET state = 'cancelled', pid = NULL, pid_started = NULL, next_attempt_at = NULL, "
                "ended_at = coalesce(ended_at, ?), error = ? WHERE state NOT IN ('stopped', 'failed', 'cancelled')",
                (clock.now(), "set aside: found in a data folder this user's Murmuration did not make"),
            )
        return cursor.rowcount
