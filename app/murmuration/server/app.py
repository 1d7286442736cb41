"""The instance server: websockets glue between connections and the operation table."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import enable_server_permessage_deflate
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from murmuration.contract import MAX_IN_FLIGHT
from murmuration.core.agents import CLIENT, PERSON
from murmuration.core.events import Subscription
from murmuration.operations import InstanceContext, OperationTable
from murmuration.server.connections import Budget, Connections
from murmuration.server.door import HANDSHAKE_TIMEOUT, Door
from murmuration.server.http import HttpGate, add_security_headers, respond, text
from murmuration.server.request_head import Refusal
from murmuration.server.rpc import RpcSession, is_cancel
from murmuration.server.signed_in import SignedInSockets, close_signed_out
from murmuration.server.static import Asset
from murmuration.sessions import PROTOCOL

log = logging.getLogger("murmuration.server")

MAX_MESSAGE = 1 << 20  # 1 MiB: larger frames are closed with 1009
EXTENSIONS = enable_server_permessage_deflate(None)  # what websockets' serve() offers by default


class InstanceServer:
    """Serves one instance's HTTP routes and JSON-RPC socket on a socket it is handed."""

    def __init__(
        self,
        ctx: InstanceContext,
        table: OperationTable,
        token: str,
        assets: dict[str, Asset],
        budget: Budget | None = None,
    ) -> None:
        self.ctx = ctx
        self.table = table
        self.gate = HttpGate(ctx, token, assets)
        self.budget = budget or Budget()
        self.connections = Connections(self.budget)
        self.door = Door(self.budget.max_pending, self._let_in, _refusal)
        self._server: Server | None = None
        self._logger = logging.getLogger("murmuration.websockets")
        self.signed_in = SignedInSockets(ctx.sessions)

    async def start(self, sock: socket.socket) -> None:
        """Serve on `sock`, the listening socket that won the port (never a second bind)."""
        server = serve(
            self._connection,
            process_request=self._process_request,
            process_response=self._process_response,
            open_timeout=HANDSHAKE_TIMEOUT,
            server_header=None,
            logger=self._logger,
        )
        # websockets' Server is handed the coroutine that makes its asyncio server: the door is ours, and websockets
        # runs the handshake and the handler of each connection the door lets in, and closes them all. Of that
        # server it only calls close, wait_closed, is_serving, get_loop and sockets, which the door has.
        server.create_server = lambda: cast(Coroutine[Any, Any, asyncio.Server], self.door.open(sock))
        self._server = await server

    async def close(self) -> None:
        self.door.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _let_in(self, sock: socket.socket, head: bytes) -> None:
        """Hand a connection whose request head is whole to websockets, as if it had just been accepted."""
        assert self._server is not None
        protocol = ServerProtocol(
            extensions=EXTENSIONS,
            select_subprotocol=_select_subprotocol,
            max_size=MAX_MESSAGE,
            logger=self._logger,
        )
        connection = LetIn(protocol, self._server, self.connections, head)
        try:
            await asyncio.get_running_loop().connect_accepted_socket(lambda: connection, sock)
        except (OSError, RuntimeError):  # gone meanwhile, or the loop is closing
            sock.close()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        response = self.gate.route(request)
        if response is None and not self.connections.admit(connection):
            return text(503, self.connections.full_message())
        return response

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> Response:
        return add_security_headers(response)

    async def _connection(self, websocket: ServerConnection) -> None:
        # A browser's session stays checked for the connection's whole life: revoked or expired, it ends here.
        signed_in = self.gate.session_of(websocket.request) if websocket.request else None
        if signed_in is not None and not self.signed_in.admit(signed_in, websocket):
            await close_signed_out(websocket)
            return
        pump: asyncio.Task[None] | None = None

        def on_subscribe(subscription: Subscription) -> None:
            nonlocal pump
            if pump is not None:
                pump.cancel()
            pump = asyncio.create_task(_pump_events(websocket, subscription))

        # The upgrade gate let this connection in with the bearer token (a program; the token decides alone when
        # sent) or a dashboard sign-in (a person): that decides who it is until a program names itself.
        by_token = websocket.request is not None and websocket.request.headers.get("Authorization") is not None
        agent = self.ctx.agents.open(PERSON if signed_in is not None and not by_token else CLIENT)
        session = RpcSession(self.table, self.ctx, on_subscribe, agent)
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in websocket:
                if signed_in is not None and not self.signed_in.use(signed_in):
                    await close_signed_out(websocket)
                    break
                if is_cancel(message):
                    # Outside the limit: a cancel must reach a wait when every slot holds one. First one turn of the
                    # loop, which runs the requests just read up to where they wait, so that a cancel sent right
                    # behind its request finds it running.
                    await asyncio.sleep(0)
                    await _reply(websocket, session, message)
                    continue
                # Waiting here when the limit is reached stops reading: back-pressure, not a growing backlog.
                await in_flight.acquire()
                task = asyncio.create_task(_answer(websocket, session, message, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            if signed_in is not None:
                self.signed_in.leave(signed_in, websocket)
            session.close()
            for task in [*tasks, *([pump] if pump else [])]:
                task.cancel()
            # A dead peer (even one killed with SIGKILL: the kernel closes its socket) ends the loop above at
            # once, so what the session held is let go of here without waiting for a timeout.
            self.ctx.agents.close(agent)


def _select_subprotocol(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Our protocol's name when the page offered it, else none: never the value that carries a session."""
    return Subprotocol(PROTOCOL) if PROTOCOL in offered else None


async def _answer(websocket: ServerConnection, session: RpcSession, message: Any, in_flight: asyncio.Semaphore) -> None:
    try:
        await _reply(websocket, session, message)
    finally:
        in_flight.release()


async def _reply(websocket: ServerConnection, session: RpcSession, message: Any) -> None:
    try:
        reply = await session.handle(message)
        if reply is not None:
            await websocket.send(reply)
    except ConnectionClosed:
        pass


async def _pump_events(websocket: ServerConnection, subscription: Subscription) -> None:
    """Forward a subscription's events to the socket as JSON-RPC notifications."""
    try:
        while True:
            event = await subscription.next()
            notification = {"jsonrpc": "2.0", "method": "event", "params": event}
            await websocket.send(json.dumps(notification, separators=(",", ":")))
    except ConnectionClosed:
        pass


class LetIn(ServerConnection):
    """A connection the door let in: websockets' from here on, counted out of `connections` when it ends."""

    def __init__(self, protocol: ServerProtocol, server: Server, connections: Connections, head: bytes) -> None:
        super().__init__(protocol, server)
        self._connections = connections
        self._head = head

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        head, self._head = self._head, b""
        super().data_received(head)  # the request the door collected, as if it had just arrived

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.left(self)
        super().connection_lost(exc)


def _refusal(refusal: Refusal) -> bytes:
    extra = (("Allow", "GET"),) if refusal.allow_get else ()
    body = (refusal.message + "\n").encode()
    return add_security_headers(respond(refusal.status, body, "text/plain; charset=utf-8", extra)).serialize()
