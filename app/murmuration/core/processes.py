"""Managed processes and the queue that starts them.

Each process runs in its own process group; its whole output goes to its log file; its life is
recorded in state.db (queued → starting → running → stopping → stopped | failed | interrupted, or
cancelled while queued). The queue starts the highest priority first, FIFO within a priority, and
never more at once than the concurrency limit counts as *running*; a paused queue starts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from murmuration.core import clock
from murmuration.core.errors import Conflict, Invalid
from murmuration.core.events import EventBus
from murmuration.core.process_log import LineSplitter, LogLine, ProcessLog, tail_file
from murmuration.core.process_records import FINAL, ProcessRecords, StartRequest, as_dict
from murmuration.core.queue_config import QueueConfig
from murmuration.core.reaper import Reaper, end_group
from murmuration.core.store import Store

BATCH_INTERVAL = 0.1  # seconds between live output batches
BATCH_LINES = 500  # lines per batch at most; the rest are in the log file
READ_CHUNK = 1 << 16


@dataclass
class Live:
    """A process this server spawned and still watches."""

    child: asyncio.subprocess.Process
    log: ProcessLog
    done: asyncio.Event = field(default_factory=asyncio.Event)
    batch: list[dict[str, str]] = field(default_factory=list)
    dropped: int = 0


def find_program(argv0: str, cwd: str, env: dict[str, str]) -> str | None:
    """Where `argv0` would be run from, or None when there is no such program to run."""
    if os.sep in argv0 or (os.altsep and os.altsep in argv0):
        path = Path(cwd, argv0)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(argv0, path=env.get("PATH", os.environ.get("PATH")))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spawn_options() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": 0x00000200}  # CREATE_NEW_PROCESS_GROUP: CTRL_BREAK reaches the whole tree
    options: dict[str, Any] = {"start_new_session": True}  # its own process group (and session)
    if sys.platform.startswith("linux"):
        options["preexec_fn"] = _die_with_parent
    return options


def _started_at(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


async def _wait_done(lives: list[Live], timeout: float) -> None:
    waiting = [asyncio.create_task(live.done.wait()) for live in lives if not live.done.is_set()]
    if waiting:
        _, pending = await asyncio.wait(waiting, timeout=timeout)
        for waiter in pending:
            waiter.cancel()


class ProcessManager:
    """Starts, watches, stops and remembers an instance's processes; owns the queue."""

    def __init__(
        self, store: Store, events: EventBus, log_folder: Path, default_cwd: str, reaper_command: Sequence[str]
    ) -> None:
        self.store = store
        self.events = events
        self.records = ProcessRecords(store, events)
        self.log_folder = log_folder
        self.default_cwd = default_cwd
        self.reaper = Reaper(reaper_command)
        self.config = QueueConfig.load(store)
        self._live: dict[str, Live] = {}
        # Processes between "starting" and spawned: stop and immediate start wait on these.
        self._spawning: dict[str, asyncio.Future[Live | None]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._batcher: asyncio.Task[None] | None = None
        self._closing = False

    # ---- life of the manager -------------------------------------------------------------

    async def open(self) -> None:
        """Recover from the last run (end survivors, re-queue interrupted work), then start scheduling."""
        for row in self.records.active_rows():
            if row["pid"] and row["pid_started"] and _started_at(row["pid"]) == row["pid_started"]:
                # The same process (pid and start time agree) outlived its instance: end its group.
                await asyncio.to_thread(end_group, row["pid"])
            self._interrupted(row["id"], "its instance stopped while it ran")
        self._scheduler = asyncio.create_task(self._schedule())
        self._batcher = asyncio.create_task(self._publish_batches())

    async def close(self) -> None:
        """Stop scheduling and end every running process; each is recorded as interrupted (and re-queued)."""
        self._closing = True
        for task in (self._scheduler, self._batcher):
            if task is not None:
                task.cancel()
        lives = list(self._live.values())
        for live in lives:
            self._signal(live, force=False)
        await _wait_done(lives, 3.0)
        for live in lives:
            if not live.done.is_set():
                self._signal(live, force=True)
        await _wait_done(lives, 3.0)
        await self.reaper.close()

    # ---- records ---------------------------------------------------------------------------

    def _interrupted(self, process_id: str, reason: str) -> None:
        row = self.records.row(process_id)
        retries_left = row["attempts"] <= self.config.max_retries
        if retries_left:
            self.records.update(
                process_id, state="queued", next_attempt_at=None, pid=None, error=f"interrupted: {reason}"
            )
        else:
            self.records.update(process_id, state="interrupted", ended_at=clock.now(), error=f"interrupted: {reason}")

    def check(self, argv: list[str], cwd: str | None, env: dict[str, str]) -> tuple[list[str], str]:
        """The argv and working directory of a request, or Invalid saying what cannot be run."""
        if not argv or not argv[0].strip():
            raise Invalid("The command is empty; give the program to run and its arguments.", "command")
        for name, parts in (("command", argv), ("env_vars", [*env, *env.values()]), ("cwd", [cwd or ""])):
            if any("\0" in part for part in parts):
                raise Invalid(f"A NUL character cannot be passed to a program; leave it out of {name}.", name)
        # A relative cwd is relative to the instance's working directory, never to wherever the server started.
        folder = str(Path(self.default_cwd, cwd or "").resolve())
        if not Path(folder).is_dir():
            raise Invalid(f"The working directory {folder!r} is not a folder.", "cwd")
        if find_program(argv[0], folder, {**os.environ, **env}) is None:
            raise Invalid(f"No program {argv[0]!r} was found (looked in PATH and {folder}).", "command")
        return argv, folder

    async def submit(self, request: StartRequest) -> dict[str, Any]:
        """Record the process and queue it (or, when immediate, start it now past the queue)."""
        process_id = uuid.uuid4().hex[:12]
        record = self.records.insert(process_id, request, None if request.immediate else self.config.max_queue_size)
        if request.immediate:
            await self._launch(process_id)
            record = self.records.get(process_id)
        else:
            self._wake.set()
        return record

    def _launch(self, process_id: str) -> asyncio.Future[Live | None]:
        """Mark the process starting (so no one starts it twice) and spawn it in a task; the future says how."""
        self.records.update(process_id, state="starting", next_attempt_at=None)
        spawned: asyncio.Future[Live | None] = asyncio.get_running_loop().create_future()
        self._spawning[process_id] = spawned
        task = asyncio.create_task(self._run(process_id, spawned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return spawned

    async def _run(self, process_id: str, spawned: asyncio.Future[Live | None]) -> None:
        try:
            await self._attempt(process_id, spawned)
        finally:
            self._spawning.pop(process_id, None)
            if not spawned.done():
                spawned.set_result(None)

    async def _attempt(self, process_id: str, spawned: asyncio.Future[Live | None]) -> None:
        row = self.records.row(process_id)
        attempt = row["attempts"] + 1
        log = ProcessLog(self.log_folder / f"{process_id}.log")
        argv = json.loads(row["argv"])
        log.system(f"attempt {attempt}: {' '.join(argv)} (in {row['cwd']})")
        try:
            child = await asyncio.create_subprocess_exec(
                *argv,
                cwd=row["cwd"],
                env={**os.environ, **json.loads(row["env"])},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                **_spawn_options(),
            )
        except (OSError, ValueError) as exc:  # ValueError: what the OS cannot take, e.g. a NUL in an argument
            reason = getattr(exc, "strerror", None) or str(exc)
            log.system(f"could not start: {reason}")
            log.close()
            self._finish_attempt(process_id, attempt, f"could not start: {reason}", spawn_failed=True)
            return
        live = Live(child, log)
        self._live[process_id] = live
        await self.reaper.watch(child.pid)
        self.records.update(
            process_id,
            state="running",
            attempts=attempt,
            pid=child.pid,
            pid_started=_started_at(child.pid),
            started_at=clock.now(),
            exit_code=None,
            signal=None,
            error=None,
        )
        spawned.set_result(live)
        assert child.stdout is not None
        assert child.stderr is not None
        await asyncio.gather(
            self._read(process_id, live, "stdout", child.stdout),
            self._read(process_id, live, "stderr", child.stderr),
        )
        code = await child.wait()
        if sys.platform != "win32":
            # Whatever the process left behind in its group (a shell's background job) ends with it.
            await asyncio.to_thread(end_group, child.pid, 0.2)
            await self.reaper.forget(child.pid)
        log.system(f"exited with code {code}" if code >= 0 else f"ended by signal {-code}")
        self._flush_batch(process_id, live)
        log.close()
        del self._live[process_id]
        stop_requested = bool(self.records.row(process_id)["stop_requested"])
        self._finish_attempt(process_id, attempt, None, code=code, stopped=stop_requested)
        live.done.set()

    def _finish_attempt(
        self,
        process_id: str,
        attempt: int,
        error: str | None,
        *,
        code: int | None = None,
        stopped: bool = False,
        spawn_failed: bool = False,
    ) -> None:
        """Record how an attempt ended: stopped, failed, or queued again to retry after its backoff."""
        exit_code = code if code is not None and code >= 0 else None
        signal_number = -code if code is not None and code < 0 else None
        outcome: dict[str, Any] = {"attempts": attempt, "exit_code": exit_code, "signal": signal_number}
        if self._closing and not stopped:
            self.records.update(process_id, **outcome)
            self._interrupted(process_id, "its instance stopped while it ran")
            return
        failed = spawn_failed or (not stopped and code != 0)
        if not failed:
            self.records.update(process_id, state="stopped", ended_at=clock.now(), **outcome)
            self._wake.set()
            return
        if error is None:
            error = f"exited with code {exit_code}" if signal_number is None else f"ended by signal {signal_number}"
        retry = (spawn_failed or self.config.retry_on_exit) and attempt <= self.config.max_retries
        if retry:
            due = time.time() + self.config.backoff(attempt)
            self.records.update(process_id, state="queued", next_attempt_at=due, error=error, **outcome)
        else:
            self.records.update(process_id, state="failed", ended_at=clock.now(), error=error, **outcome)
        self._wake.set()

    async def _read(self, process_id: str, live: Live, stream: str, pipe: asyncio.StreamReader) -> None:
        splitter = LineSplitter()
        while True:
            chunk = await pipe.read(READ_CHUNK)
            lines = splitter.feed(chunk) if chunk else splitter.finish()
            if lines:
                stamp = live.log.write(stream, lines)
                # Keep the newest lines for the live view (the log file has all of them).
                kept = lines[-BATCH_LINES:]
                live.batch.extend({"time": stamp, "stream": stream, "text": b.decode("utf-8", "replace")} for b in kept)
                excess = len(live.batch) - BATCH_LINES
                if excess > 0:
                    del live.batch[:excess]
                live.dropped += len(lines) - len(kept) + max(0, excess)
            if not chunk:
                return

    def _flush_batch(self, process_id: str, live: Live) -> None:
        if live.batch or live.dropped:
            live.log.flush()
            self.events.publish("process_output", id=process_id, lines=live.batch, skipped=live.dropped)
            live.batch, live.dropped = [], 0

    async def _publish_batches(self) -> None:
        """Every BATCH_INTERVAL, one event per process with what it printed: a flood costs a bounded amount."""
        while True:
            await asyncio.sleep(BATCH_INTERVAL)
            for process_id, live in list(self._live.items()):
                self._flush_batch(process_id, live)

    # ---- the queue -------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            delay: float | None = None
            if not self.config.paused:
                slots = self.config.max_concurrent - self.records.active_count()
                for process_id in self.records.ready(slots) if slots > 0 else []:
                    self._launch(process_id)
                delay = self.records.next_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def set_config(self, changes: dict[str, Any]) -> QueueConfig:
        config = dataclasses.replace(self.config, **changes)
        config.save(self.store)  # first: a refused save (a full disk) leaves the settings in force unchanged
        self.config = config
        self.events.publish("queue", action="config", config=self.config.as_dict())
        self._wake.set()
        return self.config

    def cancel(self, process_id: str) -> dict[str, Any]:
        row = self.records.row(process_id, "queue_id")
        if row["state"] != "queued":
            raise Conflict(
                f"Process {process_id} is {row['state']}, not queued; use stop_process for one that runs.", "queue_id"
            )
        return self.records.update(process_id, state="cancelled", ended_at=clock.now(), next_attempt_at=None)

    # ---- stopping --------------------------------------------------------------------------

    def _signal(self, live: Live, force: bool) -> None:
        pid = live.child.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sys.platform == "win32":
                if force:
                    live.child.kill()
                else:
                    live.child.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                os.killpg(pid, signal.SIGKILL if force else signal.SIGTERM)

    async def stop(self, process_id: str, force: bool, timeout: float) -> dict[str, Any]:
        """Stop a process: TERM to its group, then KILL after `timeout` s (or KILL at once when forced)."""
        row = self.records.row(process_id)
        if row["state"] == "queued":
            return self.cancel(process_id)
        if process_id in self._spawning:
            await asyncio.shield(self._spawning[process_id])
            row = self.records.row(process_id)
        live = self._live.get(process_id)
        if row["state"] in FINAL or live is None:
            return as_dict(row)
        self.records.update(process_id, state="stopping", stop_requested=1)
        self._signal(live, force)
        try:
            await asyncio.wait_for(live.done.wait(), timeout)
        except TimeoutError:
            live.log.system(f"still running {timeout:g} s after TERM; killing")
            self._signal(live, force=True)
            await live.done.wait()
        return self.records.get(process_id)

    # ---- output ----------------------------------------------------------------------------

    def logs(self, process_id: str, count: int, stream: str | None) -> list[LogLine]:
        self.records.row(process_id)
        live = self._live.get(process_id)
        if live is not None:
            recent = live.log.tail_recent(count, stream)
            if recent is not None:
                return recent
            live.log.flush()  # the newest lines may still sit in the file's buffer
        return tail_file(self.log_folder / f"{process_id}.log", count, stream)
