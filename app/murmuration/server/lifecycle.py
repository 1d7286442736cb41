"""`murmuration serve`: own the data folder, win a port, serve, and leave nothing behind on exit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from dataclasses import replace

import psutil

from murmuration import __version__, registry
from murmuration.datafolder import DataFolder, Runtime, now_iso
from murmuration.lock import FolderLock, FolderLocked
from murmuration.operations import InstanceContext, build_table
from murmuration.ports import PortUnavailable, lease_port
from murmuration.server.app import InstanceServer
from murmuration.server.logfile import open_server_log
from murmuration.server.static import load_assets
from murmuration.status import is_alive

log = logging.getLogger("murmuration.lifecycle")

EXIT_OK, EXIT_ERROR, EXIT_PORT, EXIT_LOCKED = 0, 1, 2, 3
OWNER_WAIT = 3.0  # seconds to wait for a just-started owner to say who it is


def serve(folder: DataFolder, fixed_port: int | None, port_range: range) -> int:
    """Run the instance in `folder` until SIGINT, SIGTERM or `shutdown`; the exit code per DESIGN §9."""
    folder.ensure_layout()
    lock = FolderLock(folder.lock_file)
    try:
        lock.acquire()
    except FolderLocked:
        print(owner_message(folder), file=sys.stderr)
        return EXIT_LOCKED
    try:
        return asyncio.run(_serve_locked(folder, fixed_port, port_range))
    finally:
        lock.release()


async def _serve_locked(folder: DataFolder, fixed_port: int | None, port_range: range) -> int:
    info = folder.read_info()
    token = folder.load_or_create_token()
    handler = open_server_log(folder.server_log, [token])
    try:
        lease = lease_port(fixed_port, info.last_port, port_range)
    except PortUnavailable as exc:
        print(port_message(exc.port), file=sys.stderr)
        return EXIT_PORT
    stop = asyncio.Event()
    ctx = InstanceContext(
        info=info,
        port=lease.port,
        version=__version__,
        started_at=now_iso(),
        pid=os.getpid(),
        request_shutdown=stop.set,
    )
    server = InstanceServer(ctx, build_table(), token, load_assets())
    await server.start(lease.sock)
    _on_stop_signals(stop)
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
    ready = {"event": "ready", "instance": info.id, "name": info.name, "pid": ctx.pid, "port": ctx.port, "url": ctx.url}
    print(json.dumps(ready), flush=True)
    log.info("serving %s (%s) on port %d, chosen by %s", info.name, info.id, lease.port, lease.how)
    if sys.stderr.isatty():
        code = ctx.login_codes.issue()
        print(f"Murmuration {info.name!r} is ready; sign in at {ctx.url}login?code={code}", file=sys.stderr)
    try:
        await stop.wait()
        log.info("stopping")
        await server.close()
    finally:
        folder.remove_runtime()
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
            name = registry.readable(folder)
            who = f"Murmuration instance {name.name!r}" if name else "another Murmuration instance"
            return (
                f"Port {port} is in use by {who} (pid {runtime.pid}); "
                "drop --port (and WS_PORT) to let Murmuration choose a free port."
            )
    return f"Port {port} is in use by another program; drop --port (and WS_PORT) to let Murmuration choose a free port."
