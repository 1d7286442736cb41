"""The bridge's line to its instance: connect when needed, start the server when none runs, reconnect after a loss.

A server the bridge starts gets `--idle-exit`, so it stops by itself once no agent has needed it for a while; when
such a server goes away, the next call starts it again. A server a person started is never restarted by a bridge:
the calls say it is not running until someone starts it, then the bridge connects to it again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil
from websockets.exceptions import ConnectionClosed

from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.contract import EXIT_LOCKED
from murmuration.control import START_TIMEOUT, StartFailed, start_instance
from murmuration.datafolder import DataFolder, DataFolderError, Runtime
from murmuration.mcp_bridge.identity import AgentIdentity
from murmuration.status import State, probe

log = logging.getLogger("murmuration.mcp.link")

IDLE_EXIT_ENV = "MURMURATION_IDLE_EXIT"
DEFAULT_IDLE_EXIT = 15 * 60.0
IDLE_EXIT_FLAG = "--idle-exit"
CONNECT_PATIENCE = 5.0  # seconds to keep trying a server that says it runs but does not answer yet

T = TypeVar("T")


class Unreachable(Exception):
    """The instance cannot answer a call now; the message says why and what to do."""


def idle_exit_setting() -> float:
    """Seconds a bridge-started server waits idle before it stops: MURMURATION_IDLE_EXIT, else 15 minutes.

    0 means never; a value that is not a number is ignored.
    """
    raw = os.environ.get(IDLE_EXIT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_IDLE_EXIT
    except ValueError:
        return DEFAULT_IDLE_EXIT
    return value if value > 0 else 0.0


def started_by_a_bridge(runtime: Runtime) -> bool:
    """True when the live server was started by a bridge (its command line carries `--idle-exit`)."""
    try:
        return IDLE_EXIT_FLAG in psutil.Process(runtime.pid).cmdline()
    except psutil.Error:
        return False


def _never_sent(exc: InstanceUnavailable) -> bool:
    # InstanceClient.call raises from a failed send when the socket had already closed: the instance never saw
    # the request, so it is safe to send it again on a new connection.
    return isinstance(exc.__cause__, ConnectionClosed)


async def _in_thread(work: Callable[[], T]) -> T:
    """Run blocking `work` in a daemon thread, so a bridge told to exit never waits for a server's start."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if done.done():  # the caller was cancelled
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value)  # type: ignore[arg-type]

    def run() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = work()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name="start-instance", daemon=True).start()
    return await done


class InstanceLink:
    """One bridge's connection to the instance of one data folder, made and remade as needed."""

    def __init__(
        self,
        folder: DataFolder,
        idle_exit: float,
        start_timeout: float = START_TIMEOUT,
        identity: AgentIdentity | None = None,
    ) -> None:
        self.folder = folder
        self.idle_exit = idle_exit
        self.start_timeout = start_timeout
        self.identity = identity or AgentIdentity()
        self._client: InstanceClient | None = None
        self._lock = asyncio.Lock()
        # Which connection was last named, and with which name: each new connection (and each new name) is a
        # session the instance must be told about before it carries a call.
        self._named: tuple[InstanceClient, str] | None = None
        self._naming = asyncio.Lock()
        # Whether the bridge may start the server when none runs: yes until it finds one a person started.
        self._may_start = True
        self._connected_before = False
        self._children: set[int] = set()

    @property
    def label(self) -> str:
        """How messages name the instance: its id (what `murmuration start` takes) or else its folder."""
        try:
            return self.folder.read_info().id
        except DataFolderError:
            return str(self.folder.path)

    async def call(self, method: str, params: dict[str, Any]) -> tuple[Any, str | None]:
        """The instance's answer to `method`, with a note when the bridge had to start it again first.

        Raises RpcError for the instance's refusals and Unreachable when it cannot answer.
        """
        client, note = await self.connected()
        try:
            await self._identify(client)
            return await client.call(method, params), note
        except InstanceUnavailable as exc:
            await self._forget(client)
            if not _never_sent(exc):
                raise Unreachable(self._lost_message(method)) from None
        client, note = await self.connected()
        try:
            await self._identify(client)
            return await client.call(method, params), note
        except InstanceUnavailable:
            await self._forget(client)
            raise Unreachable(self._lost_message(method)) from None

    async def connected(self) -> tuple[InstanceClient, str | None]:
        """A live connection, starting the server first when none runs and the bridge may start it."""
        async with self._lock:
            if self._client is not None:
                return self._client, None
            note = None
            # A server that just died can still look alive for a moment (its pid not yet reaped): look again.
            deadline = time.monotonic() + CONNECT_PATIENCE
            while True:
                status = probe(self.folder)
                if status.state is not State.RUNNING or status.runtime is None:
                    if not self._may_start:
                        raise Unreachable(
                            f"The Murmuration instance {self.label} is not running; ask the person to start it "
                            f"with `murmuration start {self.label}`, then retry — the bridge reconnects by itself."
                        )
                    await self._start()
                    if self._connected_before:
                        note = f"(The instance {self.label} had stopped; the bridge started it again.)"
                runtime = self.folder.read_runtime()
                try:
                    if runtime is None:
                        raise InstanceUnavailable("it stopped just now")
                    client = await InstanceClient.connect(runtime.url, runtime.token)
                except InstanceUnavailable as exc:
                    if time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                        continue
                    where = f" at {runtime.url}" if runtime else ""
                    raise Unreachable(
                        f"The Murmuration instance {self.label} does not answer{where} ({str(exc).rstrip('.')}); "
                        f"retry in a moment, and if it persists see {self.folder.server_log}."
                    ) from None
                break
            self._may_start = runtime.pid in self._children or started_by_a_bridge(runtime)
            self._client = client
            self._connected_before = True
            log.info("connected to %s at %s (pid %d)", self.label, runtime.url, runtime.pid)
            return client, note

    async def identify(self) -> None:
        """Name the current connection's session now (after the agent's MCP client said who it is)."""
        client = self._client
        if client is not None:
            with contextlib.suppress(InstanceUnavailable):  # the next call reconnects and names the new session
                await self._identify(client)

    async def _identify(self, client: InstanceClient) -> None:
        async with self._naming:
            wanted = self.identity.wanted
            if wanted is None or self._named == (client, wanted):
                return
            try:
                session = await client.call("identify", self.identity.params())
            except RpcError as exc:  # the agent still works, as an unnamed client
                log.warning("the instance refused the agent name %r: %s", wanted, exc.message)
            else:
                self.identity.given = session["name"]
                log.info("this agent is %s on %s", session["name"], self.label)
            self._named = (client, wanted)

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                await self._client.close()
                self._client = None

    async def _start(self) -> None:
        args = (IDLE_EXIT_FLAG, f"{self.idle_exit:g}")
        log.info("no server owns %s: starting one", self.folder.path)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                started = await _in_thread(lambda: start_instance(self.folder, self.start_timeout, args))
            except StartFailed as exc:
                # Locked: another bridge won the race (its server is up, or nearly), or an old server is still
                # shutting down (it lets go of the lock a moment after it removed runtime.json). Either way, wait.
                if exc.exit_code == EXIT_LOCKED and time.monotonic() < deadline:
                    if probe(self.folder).state is State.RUNNING:
                        log.info("another bridge started the server first; using it")
                        return
                    await asyncio.sleep(0.2)
                    continue
                raise Unreachable(
                    f"The Murmuration instance {self.label} could not be started: {str(exc).rstrip('.')}; "
                    f"see {self.folder.stderr_log}."
                ) from None
            except OSError as exc:
                raise Unreachable(f"The Murmuration instance {self.label} could not be started: {exc}.") from None
            if not started.already_running:
                self._adopt(int(started.ready["pid"]))
            log.info("server of %s ready at %s", self.label, started.ready.get("url"))
            return

    async def _forget(self, client: InstanceClient) -> None:
        async with self._lock:
            if self._client is client:
                self._client = None
        with contextlib.suppress(Exception):
            await client.close()
        log.info("lost the connection to %s", self.label)

    def _lost_message(self, method: str) -> str:
        again = "starts it again and reconnects" if self._may_start else "reconnects once it runs again"
        return (
            f"The Murmuration instance {self.label} stopped while running {method}, so it may or may not have "
            f"been done; check before retrying — the bridge {again} on the next call."
        )

    def _adopt(self, pid: int) -> None:
        """Remember a server this bridge spawned, and reap it the moment it exits.

        It stays the bridge's child: unreaped, its zombie would pass for a live server (same pid, same start time)
        and block both `murmuration stop`, which waits for the pid to go, and the bridge's own restart.
        """
        self._children.add(pid)
        if sys.platform == "win32":
            return

        def reap() -> None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self._children.discard(pid)

        threading.Thread(target=reap, name=f"reap-{pid}", daemon=True).start()
