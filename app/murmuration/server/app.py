"""The instance server: websockets glue between connections and the operation table."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from murmuration.core.agents import CLIENT, PERSON
from murmuration.core.events import Subscription
from murmuration.operations import InstanceContext, OperationTable
from murmuration.server.http import HttpGate, add_security_headers
from murmuration.server.rpc import RpcSession
from murmuration.server.static import Asset

log = logging.getLogger("murmuration.server")

MAX_MESSAGE = 1 << 20  # 1 MiB: larger frames are closed with 1009
MAX_IN_FLIGHT = 16  # requests one connection may have running at once
HANDSHAKE_TIMEOUT = 10.0


class InstanceServer:
    """Serves one instance's HTTP routes and JSON-RPC socket on a socket it is handed."""

    def __init__(self, ctx: InstanceContext, table: OperationTable, token: str, assets: dict[str, Asset]) -> None:
        self.ctx = ctx
        self.table = table
        self.gate = HttpGate(ctx, token, assets)
        self._server: Server | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve on `sock`, the listening socket that won the port (never a second bind)."""
        self._server = await serve(
            self._connection,
            sock=sock,
            process_request=self._process_request,
            process_response=self._process_response,
            max_size=MAX_MESSAGE,
            open_timeout=HANDSHAKE_TIMEOUT,
            server_header=None,
            logger=logging.getLogger("murmuration.websockets"),
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        return self.gate.route(request)

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> Response:
        return add_security_headers(response)

    async def _connection(self, websocket: ServerConnection) -> None:
        self.gate.open_connections += 1
        pump: asyncio.Task[None] | None = None

        def on_subscribe(subscription: Subscription) -> None:
            nonlocal pump
            if pump is not None:
                pump.cancel()
            pump = asyncio.create_task(_pump_events(websocket, subscription))

        # The upgrade gate let this connection in with the bearer token (a program) or a dashboard sign-in
        # (a person); which one it was decides who the connection is until it names itself.
        agent = self.ctx.agents.open(
            CLIENT if websocket.request and websocket.request.headers.get("Authorization") else PERSON
        )
        session = RpcSession(self.table, self.ctx, on_subscribe, agent)
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in websocket:
                # Waiting here when the limit is reached stops reading: back-pressure, not a growing backlog.
                await in_flight.acquire()
                task = asyncio.create_task(_answer(websocket, session, message, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            self.gate.open_connections -= 1
            session.close()
            for task in [*tasks, *([pump] if pump else [])]:
                task.cancel()
            # A dead peer (even one killed with SIGKILL: the kernel closes its socket) ends the loop above at
            # once, so what the session held is let go of here without waiting for a timeout.
            self.ctx.agents.close(agent)


async def _answer(websocket: ServerConnection, session: RpcSession, message: Any, in_flight: asyncio.Semaphore) -> None:
    try:
        reply = await session.handle(message)
        if reply is not None:
            await websocket.send(reply)
    except ConnectionClosed:
        pass
    finally:
        in_flight.release()


async def _pump_events(websocket: ServerConnection, subscription: Subscription) -> None:
    """Forward a subscription's events to the socket as JSON-RPC notifications."""
    try:
        while True:
            event = await subscription.next()
            notification = {"jsonrpc": "2.0", "method": "event", "params": event}
            await websocket.send(json.dumps(notification, separators=(",", ":")))
    except ConnectionClosed:
        pass
