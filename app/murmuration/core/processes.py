"""Managed processes and the queue that starts them.

Each process runs in its own process group (Windows: a Job object); its whole output goes to its log file; its life
is recorded in state.db (queued → starting → running → stopping → stopped | failed | interrupted, or cancelled while
queued). The queue starts the highest priority first, FIFO within a priority, and never more at once than the
concurrency limit counts as *running*; a paused queue starts nothing. A restart policy (`no`, `on-failure`,
`always`) decides whether a run that ended — or was cut short by its instance — is started again; nothing else is.

Nothing here wakes up on a timer while no process runs: output is published a moment after it arrives, listening
ports are looked for only while processes run, and the queue sleeps until something is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from murmuration.core import clock
from murmuration.core.errors import Conflict, DiskFull, Invalid
from murmuration.core.events import EventBus
from murmuration.core.line_pattern import LinePattern
from murmuration.core.listening import listening_of, url_of
from murmuration.core.log_reader import LogPage, LogQuery, Picker, read
from murmuration.core.port_leases import PortLeases
from murmuration.core.process_log import DEFAULT_MAX_BYTES, LineSplitter, LogLine, ProcessLog
from murmuration.core.process_records import FINAL, ProcessRecords, StartRequest, as_dict
from murmuration.core.queue_config import QueueConfig
from murmuration.core.reaper import Reaper, end_group, end_groups
from murmuration.core.spawn import Command, Spawned, environment, interrupt, kill, spawn, with_port
from murmuration.core.store import Store

BATCH_INTERVAL = 0.1  # seconds from a process's output to its live event
BATCH_LINES = 500  # lines per batch at most; the rest are in the log file
READ_CHUNK = 1 << 16
PORT_SCAN_INTERVAL = 0.25  # seconds between looks for listening ports, only while processes run
RESTART_WINDOW = 300.0  # a run shorter than this counts towards max_restarts; a longer one resets the count
LAST_LINES = 20  # lines a wait result carries when the process ended
CRASHED = "interrupted by the instance's crash"
STOPPED_WITH_INSTANCE = "interrupted: its instance stopped while it ran"


@dataclass
class Live:
    """A process this server spawned and still watches."""

    spawned: Spawned
    log: ProcessLog
    first_line: int  # the number of this run's first line in the log
    started: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    batch: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    listening: list[tuple[str, int]] = field(default_factory=list)
    stop_requested: bool = False  # known here even when state.db could not take the note

    @property
    def pid(self) -> int:
        return self.spawned.child.pid

    @property
    def urls(self) -> list[str]:
        return [url_of(address, port) for address, port in self.listening]


@dataclass(frozen=True)
class WaitFor:
    """What a caller waits for: a log line matching `log`, a listening port, or the process's exit."""

    log: LinePattern | None = None
    port: bool = False
    exit: bool = False
    timeout: float = 30.0


def find_program(argv0: str, cwd: str, env: dict[str, str]) -> str | None:
    """Where `argv0` would be run from, or None when there is no such program to run."""
    if os.sep in argv0 or (os.altsep and os.altsep in argv0):
        path = Path(cwd, argv0)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(argv0, path=env.get("PATH", os.environ.get("PATH")))


def _started_at(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFull) or (isinstance(exc, sqlite3.OperationalError) and "full" in str(exc))


async def _wait_done(lives: list[Live], timeout: float) -> None:
    waiting = [asyncio.create_task(live.done.wait()) for live in lives if not live.done.is_set()]
    if waiting:
        _, pending = await asyncio.wait(waiting, timeout=timeout)
        for waiter in pending:
            waiter.cancel()


class ProcessManager:
    """Starts, watches, stops and remembers an instance's processes; owns the queue."""

    def __init__(
        self,
        store: Store,
        events: EventBus,
        log_folder: Path,
        default_cwd: str,
        reaper_command: Sequence[str],
        leases: PortLeases | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.records = ProcessRecords(store, events)
        self.records.decorate = self.with_urls
        self.log_folder = log_folder
        self.default_cwd = default_cwd
        self.reaper = Reaper(reaper_command)
        self.leases = leases or PortLeases(log_folder.parent, instance=str(log_folder.parent))
        self.config = QueueConfig.load(store)
        self._live: dict[str, Live] = {}
        # Processes between "starting" and spawned: stop and immediate start wait on these.
        self._spawning: dict[str, asyncio.Future[Live | None]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._port_scanner: asyncio.Task[None] | None = None
        self._closing = False
        # What `open` found cut short by the last run's crash, by title: queued again, or interrupted for good.
        self.recovered: dict[str, list[str]] = {"interrupted": [], "restarted": []}

    # ---- life of the manager -------------------------------------------------------------

    async def open(self) -> None:
        """Recover from a crash (end survivors, mark cut-short runs interrupted), then start scheduling."""
        rows = self.records.active_rows()
        survivors = [
            row["pid"]
            for row in rows
            if row["pid"] and row["pid_started"] and _started_at(row["pid"]) == row["pid_started"]
        ]
        if survivors:
            # The same processes (pid and start time agree) outlived their instance: end their groups together.
            await asyncio.to_thread(end_groups, survivors)
        for row in rows:
            if row["stop_requested"]:
                # A stop was in flight: the process is gone, which is what was asked; never run it again.
                self.records.update(row["id"], state="stopped", ended_at=clock.now(), pid=None)
                continue
            note = f"{CRASHED} at {clock.now()}"
            with contextlib.suppress(OSError):
                log = self._open_log(row["id"])
                log.system(note)
                log.close()
            again = self._cut_short(row["id"], row["restart"], note)
            self.recovered["restarted" if again else "interrupted"].append(row["title"] or row["id"])
        self._scheduler = asyncio.create_task(self._schedule())

    async def close(self) -> None:
        """Stop scheduling and end every running process; each is interrupted (queued again if its policy says)."""
        self._closing = True
        for task in (self._scheduler, self._port_scanner):
            if task is not None:
                task.cancel()
        lives = list(self._live.values())
        for live in lives:
            if not interrupt(live.spawned):
                kill(live.spawned)
        await _wait_done(lives, 3.0)
        for live in lives:
            if not live.done.is_set():
                kill(live.spawned)
        await _wait_done(lives, 3.0)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        await self.reaper.close()

    def _cut_short(self, process_id: str, policy: str, note: str) -> bool:
        """A run its instance ended: queued again when its policy restarts it (True), else interrupted for good."""
        if policy in ("on-failure", "always"):
            self.records.update(
                process_id, state="queued", next_attempt_at=None, pid=None, port=None, error=None, interrupted=note
            )
            return True
        self.records.update(process_id, state="interrupted", ended_at=clock.now(), error=note, interrupted=note)
        return False

    # ---- starting --------------------------------------------------------------------------

    def check(
        self, command: Command, cwd: str | None, env: dict[str, str], port: int | None = None
    ) -> tuple[Command, str]:
        """The command and working directory of a request, or Invalid saying what cannot be run."""
        if isinstance(command, str):
            if not command.strip():
                raise Invalid("The command is empty; give a shell command or an argv list.", "command")
            if "{port}" in command and port is None:
                raise Invalid("The command uses {port} but no port was asked for; add port: true.", "port")
        elif not command or not command[0].strip():
            raise Invalid("The command is empty; give the program to run and its arguments.", "command")
        parts = [command] if isinstance(command, str) else command
        for name, values in (("command", parts), ("env_vars", [*env, *env.values()]), ("cwd", [cwd or ""])):
            if any("\0" in value for value in values):
                raise Invalid(f"A NUL character cannot be passed to a program; leave it out of {name}.", name)
        # A relative cwd is relative to the instance's working directory, never to wherever the server started.
        folder = str(Path(self.default_cwd, cwd or "").resolve())
        if not Path(folder).is_dir():
            raise Invalid(f"The working directory {folder!r} is not a folder.", "cwd")
        if isinstance(command, list) and find_program(command[0], folder, {**os.environ, **env}) is None:
            raise Invalid(f"No program {command[0]!r} was found (looked in PATH and {folder}).", "command")
        return command, folder

    async def submit(self, request: StartRequest) -> dict[str, Any]:
        """Record the process and queue it (or, when immediate, start it now past the queue)."""
        process_id = uuid.uuid4().hex[:12]
        if request.port:
            await asyncio.to_thread(self.leases.check_fixed, request.port)  # refused now, not at its turn
        record = self.records.insert(process_id, request, None if request.immediate else self.config.max_queue_size)
        if request.immediate:
            await self._launch(process_id, immediate=True)
            record = self.get(process_id)
        else:
            self._wake.set()
        return record

    def _launch(self, process_id: str, immediate: bool = False) -> asyncio.Future[Live | None]:
        """Mark the process starting (so no one starts it twice) and spawn it in a task; the future says how."""
        if not immediate:
            self.records.update(process_id, state="starting", next_attempt_at=None)
        spawned: asyncio.Future[Live | None] = asyncio.get_running_loop().create_future()
        self._spawning[process_id] = spawned
        task = asyncio.create_task(self._run(process_id, spawned, immediate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return spawned

    async def _run(self, process_id: str, spawned: asyncio.Future[Live | None], immediate: bool) -> None:
        try:
            await self._attempt(process_id, spawned, immediate)
        except Exception as exc:
            # Whatever went wrong (a disk full under state.db, say), the record must not stay "starting".
            self._record(process_id, state="failed", ended_at=clock.now(), error=f"could not start: {exc}")
        finally:
            self._spawning.pop(process_id, None)
            if not spawned.done():
                spawned.set_result(None)
            self._poke(process_id)

    def _open_log(self, process_id: str) -> ProcessLog:
        return ProcessLog(self.log_folder / f"{process_id}.log", self.config.max_log_bytes)

    async def _lease(self, process_id: str, row: Any) -> int | None:
        if row["want_port"] is None:
            return None
        fixed = row["want_port"] or None
        return await asyncio.to_thread(self.leases.lease, process_id, row["title"], fixed, row["port"])

    async def _attempt(self, process_id: str, spawned: asyncio.Future[Live | None], immediate: bool) -> None:
        row = self.records.row(process_id)
        attempt = row["attempts"] + 1
        log = self._open_log(process_id)
        command: Command = json.loads(row["argv"])
        try:
            port = await self._lease(process_id, row)
        except Conflict as exc:
            log.system(f"could not start: {exc.message}")
            log.close()
            self._finish_attempt(
                process_id, attempt, f"could not start: {exc.message}", spawn_failed=True, immediate=immediate
            )
            return
        command = with_port(command, port)
        shown = command if isinstance(command, str) else " ".join(command)
        log.system(f"attempt {attempt}: {shown} (in {row['cwd']})" + (f" with PORT={port}" if port else ""))
        env = environment(os.environ, json.loads(row["env"]), port)
        try:
            started = await spawn(command, row["cwd"], env, bool(row["tty"]))
        except (OSError, ValueError) as exc:  # ValueError: what the OS cannot take, e.g. a NUL in an argument
            reason = getattr(exc, "strerror", None) or str(exc)
            log.system(f"could not start: {reason}")
            log.close()
            await asyncio.to_thread(self.leases.release, process_id)
            self._finish_attempt(
                process_id, attempt, f"could not start: {reason}", spawn_failed=True, immediate=immediate
            )
            return
        live = Live(started, log, first_line=log.last + 1)
        self._live[process_id] = live
        child = started.child
        try:
            await self.reaper.watch(child.pid)
            self._record(
                process_id,
                state="running",
                attempts=attempt,
                pid=child.pid,
                pid_started=_started_at(child.pid),
                port=port,
                started_at=clock.now(),
                exit_code=None,
                signal=None,
                error=None,
            )
        finally:
            spawned.set_result(live)
            self._ensure_port_scanner()
        await asyncio.gather(
            self._read(process_id, live, "stdout", started.stdout),
            self._read(process_id, live, "stderr", started.stderr),
        )
        code = await child.wait()
        if sys.platform != "win32":
            # Whatever the process left behind in its group (a shell's background job) ends with it.
            await asyncio.to_thread(end_group, child.pid, 0.2)
            await self.reaper.forget(child.pid)
        elif started.job is not None:
            started.job.close()
        log.system(f"exited with code {code}" if code >= 0 else f"ended by signal {-code}")
        self._flush_batch(process_id, live)
        log.close()
        del self._live[process_id]
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.leases.release, process_id)
        ran = time.monotonic() - live.started
        stop_requested = live.stop_requested or bool(self.records.row(process_id)["stop_requested"])
        live.done.set()
        self._finish_attempt(process_id, attempt, None, code=code, stopped=stop_requested, ran=ran)

    def _finish_attempt(
        self,
        process_id: str,
        attempt: int,
        error: str | None,
        *,
        code: int | None = None,
        stopped: bool = False,
        spawn_failed: bool = False,
        immediate: bool = False,
        ran: float = 0.0,
    ) -> None:
        """Record how an attempt ended: stopped, failed, or queued again (a retry or a restart) after its backoff."""
        exit_code = code if code is not None and code >= 0 else None
        signal_number = -code if code is not None and code < 0 else None
        outcome: dict[str, Any] = {"attempts": attempt, "exit_code": exit_code, "signal": signal_number, "pid": None}
        row = self.records.row(process_id)
        if self._closing and not stopped:
            self._record(process_id, **outcome)
            self._cut_short(process_id, row["restart"], STOPPED_WITH_INSTANCE)
            return
        failed = spawn_failed or (not stopped and code != 0)
        if error is None and failed:
            error = f"exited with code {exit_code}" if signal_number is None else f"ended by signal {signal_number}"
        policy = row["restart"]
        if not stopped and not spawn_failed and (policy == "always" or (policy == "on-failure" and failed)):
            restarts = row["restarts"] + 1 if ran < RESTART_WINDOW else 1
            if restarts > row["max_restarts"]:
                window = f"{RESTART_WINDOW / 60:g} minutes"
                error = f"restarted {row['max_restarts']} times within {window}; gave up ({error})"
                self._record(process_id, state="failed", ended_at=clock.now(), error=error, **outcome)
            else:
                due = time.time() + self.config.backoff(restarts)
                self._record(process_id, state="queued", next_attempt_at=due, error=error, restarts=restarts, **outcome)
            self._wake.set()
            return
        if not failed:
            self._record(process_id, state="stopped", ended_at=clock.now(), **outcome)
            self._wake.set()
            return
        # A start that already answered its caller with an error is never retried behind their back.
        retry = not immediate and (spawn_failed or self.config.retry_on_exit) and attempt <= self.config.max_retries
        if retry:
            due = time.time() + self.config.backoff(attempt)
            self._record(process_id, state="queued", next_attempt_at=due, error=error, **outcome)
        else:
            self._record(process_id, state="failed", ended_at=clock.now(), error=error, **outcome)
        self._wake.set()

    def _record(self, process_id: str, **values: Any) -> None:
        """Write a change of state; with the disk full, keep trying in the background until it fits."""
        try:
            self.records.update(process_id, **values)
        except Exception as exc:
            if not _disk_full(exc):
                raise
            task = asyncio.get_running_loop().create_task(self._record_later(process_id, values))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._poke(process_id)

    async def _record_later(self, process_id: str, values: dict[str, Any]) -> None:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                self.records.update(process_id, **values)
            except Exception as exc:
                if not _disk_full(exc):
                    raise
                delay = min(delay * 2, 5.0)
                continue
            self._wake.set()
            self._poke(process_id)
            return

    # ---- output ----------------------------------------------------------------------------

    async def _read(self, process_id: str, live: Live, stream: str, pipe: asyncio.StreamReader) -> None:
        splitter = LineSplitter()
        while True:
            chunk = await pipe.read(READ_CHUNK)
            lines = splitter.feed(chunk) if chunk else splitter.finish()
            if lines:
                first = live.log.last + 1
                stamp = live.log.write(stream, lines)
                # Keep the newest lines for the live view (the log file has all of them).
                kept = lines[-BATCH_LINES:]
                offset = first + len(lines) - len(kept)
                live.batch.extend(
                    {"n": offset + i, "time": stamp, "stream": stream, "text": b.decode("utf-8", "replace")}
                    for i, b in enumerate(kept)
                )
                excess = len(live.batch) - BATCH_LINES
                if excess > 0:
                    del live.batch[:excess]
                live.dropped += len(lines) - len(kept) + max(0, excess)
                self._schedule_flush()
                self._poke(process_id)
            if not chunk:
                return

    def _schedule_flush(self) -> None:
        """Publish output a moment after it arrives, once for everything printed meanwhile: a flood costs little."""
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(BATCH_INTERVAL, self._flush_all)

    def _flush_all(self) -> None:
        self._flush_handle = None
        for process_id, live in list(self._live.items()):
            self._flush_batch(process_id, live)

    def _flush_batch(self, process_id: str, live: Live) -> None:
        if live.batch or live.dropped:
            self.events.publish("process_output", id=process_id, lines=live.batch, skipped=live.dropped)
            live.batch, live.dropped = [], 0

    async def logs(self, process_id: str, query: LogQuery) -> LogPage:
        """A page of a process's log: from memory when it holds what is asked, else from disk in a thread."""
        self.records.row(process_id)
        live = self._live.get(process_id)
        # A pattern is matched in a thread, never on the loop: matching may take up to the pattern's budget.
        if live is not None and query.since is None and query.pattern is None:
            page = self._from_memory(live, query)
            if page is not None:
                return page
        path = self.log_folder / f"{process_id}.log"
        return await asyncio.to_thread(read, path, query)

    def _from_memory(self, live: Live, query: LogQuery) -> LogPage | None:
        log = live.log
        if query.from_the_end:
            lines = log.tail_recent(query.count, query.stream)
            return None if lines is None else LogPage(lines, next=log.last, first=self._first_kept(log))
        after = query.after if query.after is not None else None
        if after is None or log.lost:
            return None
        if after >= log.last:
            return LogPage([], next=after, first=self._first_kept(log))
        if not log.recent or log.recent[0].n > after + 1:
            return None
        picker = Picker(query)
        page = LogPage(next=after, first=self._first_kept(log))
        for line in log.recent:
            if line.n <= after:
                continue
            done = picker.offer(line)
            if not picker.declined:
                page.next = line.n
            if done:
                break
        page.lines, page.matches = picker.lines, picker.matches
        return page

    @staticmethod
    def _first_kept(log: ProcessLog) -> int:
        return log.first_kept

    # ---- ports -------------------------------------------------------------------------------

    def _ensure_port_scanner(self) -> None:
        if self._port_scanner is None or self._port_scanner.done():
            self._port_scanner = asyncio.create_task(self._scan_ports())

    async def _scan_ports(self) -> None:
        """Look for listening ports of every running process; ends (no more wake-ups) when none runs."""
        while self._live:
            lives = list(self._live.items())
            found = await asyncio.to_thread(listening_of, [live.pid for _, live in lives])
            for process_id, live in lives:
                listening = found.get(live.pid, [])
                if listening != live.listening and not live.done.is_set():
                    live.listening = listening
                    record = self.get(process_id)
                    self.events.publish("process", action="urls", id=process_id, state=record["state"], process=record)
                    self._poke(process_id)
            await asyncio.sleep(PORT_SCAN_INTERVAL)

    # ---- records with what only the running server knows ---------------------------------------

    def get(self, process_id: str) -> dict[str, Any]:
        return self.with_urls(self.records.get(process_id))

    def with_urls(self, record: dict[str, Any]) -> dict[str, Any]:
        live = self._live.get(record["id"]) if record["state"] in ("running", "stopping") else None
        return {**record, "urls": live.urls if live is not None else []}

    # ---- waiting -----------------------------------------------------------------------------

    def _poke(self, process_id: str) -> None:
        for waiter in self._waiters.pop(process_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def _watch(self, process_id: str) -> asyncio.Future[None]:
        """A future that the process's next change sets. Made *before* a look, so a change during the look (a
        line written while a pattern is matched in a thread) wakes the waiter instead of passing it by."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(process_id, []).append(waiter)
        return waiter

    def _unwatch(self, process_id: str, waiter: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(process_id, [])
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            self._waiters.pop(process_id, None)

    async def wait(self, process_id: str, what: WaitFor) -> dict[str, Any]:
        """Wait until the process is ready (a line, a port), has exited, or `what.timeout` passed; say which."""
        self.records.row(process_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + what.timeout
        cursor: int | None = None
        while True:
            changed = self._watch(process_id)
            try:
                found = await self._look(process_id, what, cursor)
                if isinstance(found, dict):
                    return found
                cursor = found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return self._waited(process_id, "timeout")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed, remaining)
            finally:
                self._unwatch(process_id, changed)

    async def _look(self, process_id: str, what: WaitFor, cursor: int | None) -> dict[str, Any] | int | None:
        """One look for what `wait` waits for: its answer when it is there, else the log cursor to look on from."""
        live = self._live.get(process_id)
        if live is not None:
            if what.log is not None:
                start = live.first_line - 1 if cursor is None else cursor
                page = await self.logs(process_id, LogQuery(count=1, after=start, pattern=what.log))
                cursor = page.next
                if page.lines:
                    return self._waited(process_id, "log", line=page.lines[0].as_dict())
            if what.port and live.listening:
                return self._waited(process_id, "port", url=live.urls[0])
        elif self.records.row(process_id)["state"] in FINAL:
            return await self._exited(process_id, what, cursor)
        return cursor

    async def _exited(self, process_id: str, what: WaitFor, cursor: int | None) -> dict[str, Any]:
        if what.log is not None:  # it may have printed the line and ended between two looks
            found = await self.logs(process_id, LogQuery(count=1, after=cursor or 0, pattern=what.log))
            if found.lines:
                return self._waited(process_id, "log", line=found.lines[0].as_dict())
        page = await self.logs(process_id, LogQuery(count=LAST_LINES))
        return self._waited(process_id, "exit", last_lines=[line.as_dict() for line in page.lines], ready=what.exit)

    def _waited(self, process_id: str, reason: str, ready: bool | None = None, **found: Any) -> dict[str, Any]:
        record = self.get(process_id)
        messages = {
            "log": "A line matched.",
            "port": f"It listens on {found.get('url')}.",
            "exit": f"It ended: {record['state']}"
            + (f" with exit code {record['exit_code']}." if record["exit_code"] is not None else "."),
            "timeout": f"Still {record['state']} at the timeout; it keeps running — wait again or read its logs.",
        }
        ready = reason in ("log", "port") if ready is None else ready
        return {**record, "wait": {"ready": ready, "reason": reason, "message": messages[reason], **found}}

    # ---- the queue -------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            delay: float | None = None
            if not self.config.paused:
                slots = self.config.max_concurrent - self.records.active_count()
                for process_id in self.records.ready(slots) if slots > 0 else []:
                    self._launch(process_id)
                    self._poke(process_id)
                delay = self.records.next_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def set_config(self, changes: dict[str, Any]) -> QueueConfig:
        config = replace(self.config, **changes)
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
        record = self.records.update(process_id, state="cancelled", ended_at=clock.now(), next_attempt_at=None)
        self._poke(process_id)
        return self.with_urls(record)

    # ---- stopping --------------------------------------------------------------------------

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
            return self.with_urls(as_dict(row))
        # Signal first: a stop must work even when state.db cannot take the note (its disk full).
        live.stop_requested = True
        if force or not interrupt(live.spawned):
            kill(live.spawned)
        try:
            self._record(process_id, state="stopping", stop_requested=1)
        finally:
            try:
                await asyncio.wait_for(live.done.wait(), timeout)
            except TimeoutError:
                live.log.system(f"still running {timeout:g} s after TERM; killing")
                kill(live.spawned)
                await live.done.wait()
        return self.get(process_id)


__all__ = ["DEFAULT_MAX_BYTES", "LogLine", "ProcessManager", "WaitFor"]
