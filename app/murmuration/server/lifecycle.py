"""`murmuration serve`: own the data folder, win a port, serve, and leave nothing behind on exit."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import psutil

from murmuration import __version__, provenance, registry
from murmuration.contract import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_PORT
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.port_leases import PortLeases
from murmuration.core.processes import ProcessManager
from murmuration.core.store import StoreError
from murmuration.datafolder import DataFolder, DataFolderError, Runtime
from murmuration.home import base_folder
from murmuration.lock import FolderLock, FolderLocked
from murmuration.operations import InstanceContext, build_table
from murmuration.operations.offline import instance_context
from murmuration.ports import DEFAULT_RANGE, PortLease, PortUnavailable, lease_port
from murmuration.selfcommand import self_command
from murmuration.server.app import InstanceServer
from murmuration.server.backup_schedule import back_up_regularly, backup_interval
from murmuration.server.connections import Budget, open_files_limit, raise_open_files_limit
from murmuration.server.idle import is_idle, stop_when_idle
from murmuration.server.logfile import open_server_log
from murmuration.server.static import load_assets
from murmuration.sessions import SessionRecord, Sessions, load_sessions, save_sessions
from murmuration.status import is_alive

log = logging.getLogger("murmuration.lifecycle")

OWNER_WAIT = 3.0  # seconds to wait for a just-started owner to say who it is


@dataclass
class RunningInstance:
    """A live instance: what its operations see, its secret, how its port was won, and its stop switch."""

    ctx: InstanceContext
    token: str
    lease: PortLease
    stopping: asyncio.Event

    @property
    def url(self) -> str:
        return self.ctx.url


@asynccontextmanager
async def running_instance(
    folder: DataFolder, fixed_port: int | None = None, port_range: range = DEFAULT_RANGE, idle_exit: float | None = None
) -> AsyncIterator[RunningInstance]:
    """Own `folder`, serve it on a won port and publish runtime.json; undo all of it on exit.

    With `idle_exit`, the instance stops itself after that many idle seconds (see server/idle.py).
    Raises FolderLocked or PortUnavailable before anything is published.
    """
    folder.secure()
    lock = FolderLock(folder.lock_file)
    lock.acquire()
    try:
        info = folder.read_info()
        made_here = provenance.made_here(folder, info)
        # Renewed under the lock only: a server that loses the race for the folder must not change its token.
        token = folder.load_or_create_token(renew=not made_here)
        if not made_here:
            folder.sessions_file.unlink(missing_ok=True)  # sessions found with the folder are nobody's of ours
            # Its processes would run where the folder says: a folder found elsewhere decides nothing of the kind.
            info = replace(info, cwd=str(folder.path.parent))
        sessions = open_sessions(folder)
        events = EventBus()
        knowledge = KnowledgeBase.open(folder.state_db, events)
        leases = PortLeases(base_folder(), instance=info.name)
        processes = ProcessManager(
            knowledge.store, events, folder.log_folder / "processes", info.cwd, self_command("_reap"), leases
        )
        try:
            if not made_here:
                if knowledge.store.damage is not None:
                    # Read-only would still run its queue's leftovers unchecked: a found, damaged store is not served.
                    raise StoreError(
                        f"{folder.path} was not made by this user's Murmuration and its state.db is damaged; "
                        "move state.db aside to start afresh."
                    )
                knowledge.store.check_found()
                set_aside = processes.records.set_aside_found_work()
                log.warning(
                    "%s was not made by this user's Murmuration: its token was replaced and %d unfinished "
                    "process(es) in it were cancelled, never run",
                    folder.path,
                    set_aside,
                )
                info = provenance.seal(folder, info)
            lease = lease_port(fixed_port, info.last_port, port_range)
            stopping = asyncio.Event()
            ctx = instance_context(info, lease.port, knowledge, processes, events, sessions, stopping.set)
            server = InstanceServer(ctx, build_table(), token, load_assets(), Budget.for_files(open_files_limit()))
            if knowledge.store.damage is None:
                await processes.open()
            else:
                # Read-only: recovering the last run's processes would write to the damaged file.
                log.error("state.db is damaged (%s): serving it read-only", knowledge.store.damage)
            await server.start(lease.sock)
            watch = None
            if idle_exit:
                watch = asyncio.create_task(
                    stop_when_idle(idle_exit, lambda: is_idle(server.connections, processes), stopping.set)
                )
            backing_up = asyncio.create_task(back_up_regularly(knowledge.store, backup_interval()))
            try:
                folder.write_runtime(
                    Runtime(
                        pid=ctx.pid,
                        port=ctx.port,
                        url=ctx.url,
                        token=token,
                        started_at=ctx.started_at,
                        version=__version__,
                        create_time=psutil.Process().create_time(),
                    )
                )
                if info.last_port != lease.port:
                    folder.write_info(replace(info, last_port=lease.port))
                yield RunningInstance(ctx, token, lease, stopping)
            finally:
                if watch is not None:
                    watch.cancel()
                backing_up.cancel()
                folder.remove_runtime()
                await server.close()
                await processes.close()
                _save_sessions(folder, sessions.records())  # the last uses, saved only coarsely while serving
        finally:
            knowledge.close()
    finally:
        lock.release()


def open_sessions(folder: DataFolder) -> Sessions:
    """The folder's saved sessions, kept saved as they change: a signed-in tab survives a restart of its instance."""
    return Sessions(records=load_sessions(folder.sessions_file), on_change=lambda r: _save_sessions(folder, r))


def _save_sessions(folder: DataFolder, records: list[SessionRecord]) -> None:
    try:
        save_sessions(folder.sessions_file, records)
    except OSError as exc:
        # Sessions still work from memory; a restart would only ask browsers to sign in again.
        log.warning("could not save the dashboard sessions to %s: %s", folder.sessions_file, exc.strerror or exc)


def serve(folder: DataFolder, fixed_port: int | None, port_range: range, idle_exit: float | None = None) -> int:
    """Run the instance in `folder` until SIGINT, SIGTERM, `shutdown` or (with `idle_exit`) idleness.

    The exit code is one of contract.py's EXIT_ codes.
    """
    try:
        return asyncio.run(_serve(folder, fixed_port, port_range, idle_exit))
    except FolderLocked:
        print(owner_message(folder), file=sys.stderr)
        return EXIT_LOCKED
    except PortUnavailable as exc:
        print(port_message(exc.port), file=sys.stderr)
        return EXIT_PORT
    except (StoreError, DataFolderError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR


async def _serve(folder: DataFolder, fixed_port: int | None, port_range: range, idle_exit: float | None) -> int:
    folder.secure()
    # The token joins the log's redactions once the server owns the folder (it may be renewed then).
    handler, redact = open_server_log(folder.server_log, [])
    # Each connection is a file descriptor: the usual soft limit (often 1024) would let a flood of idle
    # connections make accept() fail for everyone.
    raise_open_files_limit()
    try:
        async with running_instance(folder, fixed_port, port_range, idle_exit) as instance:
            redact.secrets.append(instance.token)
            _on_stop_signals(instance.stopping)
            ctx = instance.ctx
            info = ctx.info
            ready = {
                "event": "ready",
                "instance": info.id,
                "name": info.name,
                "pid": ctx.pid,
                "port": ctx.port,
                "url": ctx.url,
            }
            print(json.dumps(ready), flush=True)
            # What start-up made (modules, the operation table, schemas) lives as long as the process: frozen, it
            # is left out of every later garbage collection, whose full passes a flood of connections would
            # otherwise make walk it again and again while the loop waits.
            gc.freeze()
            log.info("serving %s (%s) on port %d, chosen by %s", info.name, info.id, ctx.port, instance.lease.how)
            if sys.stderr.isatty():
                code = ctx.login_codes.issue()
                print(f"Murmuration {info.name!r} is ready; sign in at {ctx.url}login?code={code}", file=sys.stderr)
            await instance.stopping.wait()
            log.info("stopping")
    finally:
        logging.getLogger("murmuration").removeHandler(handler)
        handler.close()
    return EXIT_OK


def _on_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))


def owner_message(folder: DataFolder) -> str:
    """Who holds a locked folder, waiting briefly for an owner that is still starting to say so."""
    deadline = time.monotonic() + OWNER_WAIT
    while True:
        runtime = folder.read_runtime()
        if runtime is not None and is_alive(runtime):
            return (
                f"The data folder {folder.path} is already served by pid {runtime.pid} at {runtime.url}; "
                "use that instance or stop it first."
            )
        if time.monotonic() >= deadline:
            return f"The data folder {folder.path} is locked by another Murmuration server; stop it first."
        time.sleep(0.05)


def port_message(port: int) -> str:
    """Why a fixed port cannot be had, naming the holder when it is one of our instances."""
    for folder in registry.managed_folders():
        runtime = folder.read_runtime()
        if runtime is not None and runtime.port == port and is_alive(runtime):
            info = registry.readable(folder)
            who = f"Murmuration instance {info.name!r}" if info else "another Murmuration instance"
            return (
                f"Port {port} is in use by {who} (pid {runtime.pid}); "
                "leave out --port (and unset WS_PORT) to let Murmuration choose a free port."
            )
    return (
        f"Port {port} is in use by another program; leave out --port (and unset WS_PORT) to let Murmuration choose "
        "a free port."
    )
