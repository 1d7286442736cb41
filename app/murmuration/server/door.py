"""The door: a thread of its own, where a new connection waits as a bare socket until its request head is whole.

Anyone on the machine can open a TCP connection to an instance and then say nothing, or say it one byte at a
time, ten thousand times over. Such callers never reach the event loop. The door's thread accepts them, watches
them with a selector of its own, screens their bytes (`request_head.py`, after `cookie_drop.py`) and closes those
that run out of time or of room; a refusal (405, 400, 431) is answered at the door. Only a connection whose
request is complete and acceptable is handed to the loop (`let_in(sock, head)`), where websockets takes it.

Why a thread: when the door lived on the event loop, every caller was an asyncio transport in the loop's
selector, and a slowloris dripping one byte into ten thousand sockets makes them readable all at once — a single
turn of the loop then read every one of them (and accepted and closed the flood's churn) while a signed-in ping
waited its turn for hundreds of milliseconds. asyncio cannot take only some of its selector's events per turn.
Now the loop's selector holds only connections that were let in, and the door's socket calls (accept, recv,
close, the selector's wait) release the GIL, so however busy the door is, the loop waits for the GIL at most
a switch interval (5 ms) at a time. Nothing of websockets or asyncio exists per caller either: their per-socket
objects hold each other in cycles that a flood's dropped connections left to the garbage collector.

Callers have a budget (`max_pending`, the oldest dropped first: a real client's request comes whole in its first
read, so it is among the newest while it waits) and a deadline each of HANDSHAKE_TIMEOUT, give or take a
quarter, kept in buckets of TICK seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import selectors
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from murmuration.server.cookie_drop import CookieDrop
from murmuration.server.request_head import Refusal, RequestScreen

log = logging.getLogger("murmuration.door")

HANDSHAKE_TIMEOUT = 5.0  # seconds from accept to a complete request
TICK = 0.25  # seconds: how finely deadlines are kept
READ_SIZE = 64 * 1024  # bytes per read
# Work between two looks at the sockets, so that a real client's request is read soon after it arrives even while
# a flood's connections come and go by the thousand (closing a socket costs the kernel real work).
ACCEPT_BATCH = 256  # connections accepted
DROPS_PER_ROUND = 64  # callers dropped at their deadline
# select(), the only selector Windows has, watches at most 512 sockets there; epoll and kqueue have no such cap.
SELECTOR_CAPACITY = 500 if sys.platform == "win32" else None
# accept() failing for want of descriptors or memory: making room (or resting) beats retrying at once forever.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def handshake_time() -> float:
    """How long one connection may take to send its request: HANDSHAKE_TIMEOUT, give or take a quarter.

    The spread matters under a flood: connections that arrived together would otherwise all expire together
    and come back together, filling the kernel's accept queue in bursts that a real client's connect hits.
    """
    return HANDSHAKE_TIMEOUT * random.uniform(0.75, 1.25)


class Caller:
    """One connection at the door: its socket, its request's bytes so far, and the tick at which it is dropped."""

    __slots__ = ("_cookies", "_screen", "due", "sock")

    def __init__(self, sock: socket.socket, due: int) -> None:
        self.sock = sock
        self.due = due
        # Made at the first byte: a silent connection, the commonest in a flood, never needs them.
        self._screen: RequestScreen | None = None
        self._cookies: CookieDrop | None = None

    def hear(self, data: bytes) -> bytes | Refusal | None:
        """The whole acceptable head, a Refusal, or None while the request is unfinished."""
        if self._screen is None or self._cookies is None:
            self._screen, self._cookies = RequestScreen(), CookieDrop()
        # Cookies go before the screen sees the head: planted in bulk by another port, they must not fill it.
        data = self._cookies.feed(data)
        return self._screen.feed(data) if data else None


class Door(asyncio.AbstractServer):
    """The listening socket's server: holds its callers within a budget, and lets each in, refuses it or drops it.

    `let_in(sock, head)` runs on the event loop and takes over a connection whose request head is whole and
    acceptable; `render(refusal)` gives the bytes that answer one that is not (called on the door's thread).
    """

    def __init__(
        self,
        max_pending: int,
        let_in: Callable[[socket.socket, bytes], Coroutine[Any, Any, None]],
        render: Callable[[Refusal], bytes],
    ) -> None:
        self.max_pending = max_pending if SELECTOR_CAPACITY is None else min(max_pending, SELECTOR_CAPACITY)
        self._let_in = let_in
        self._render = render
        # Oldest first. An OrderedDict because a plain dict slows down when entries keep leaving from its front.
        self._callers: OrderedDict[Caller, None] = OrderedDict()
        self._due: dict[int, set[Caller]] = {}
        self._selector = selectors.DefaultSelector()
        self._wake, self._waker = socket.socketpair()  # a byte on _waker ends the selector's wait: close() is asked
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._resting_until = 0.0  # while accept() lacks resources, the listening socket is not watched
        self._letting_in: set[asyncio.Task[None]] = set()
        self.dropped = 0  # callers pushed out by newer ones, for the log and the tests

    @property
    def pending(self) -> int:
        return len(self._callers)

    async def open(self, sock: socket.socket) -> Door:
        """Accept on `sock`, the listening socket that won the port, in the door's own thread from now on."""
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        sock.setblocking(False)
        # The kernel's queue at its longest, so that a burst of connects waits for the door instead of being dropped.
        sock.listen(socket.SOMAXCONN)
        self._wake.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, None)
        self._selector.register(self._wake, selectors.EVENT_READ, self._wake)
        self._thread = threading.Thread(target=self._serve, name="murmuration-door", daemon=True)
        self._thread.start()
        return self

    # --- the server websockets wraps (asyncio.AbstractServer), called on the event loop ---------------------------

    def close(self) -> None:
        """Stop accepting and drop every caller (connections already let in are not the door's to close)."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(OSError):  # the door's thread has ended already, and closed the other end
            self._waker.send(b"x")

    async def wait_closed(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._waker.close()  # only now: the door's thread no longer reads its other end

    def is_serving(self) -> bool:
        return self._thread is not None and not self._closing

    def get_loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    async def start_serving(self) -> None:
        return None  # serving since open()

    async def serve_forever(self) -> None:
        await self.wait_closed()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._sock is None or self._closing else (self._sock,)

    # --- the door's thread --------------------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            overdue = False
            while not self._closing:
                self._rest_over()
                wait = 0 if overdue else TICK if self._callers or self._resting_until else None
                for key, _ in self._selector.select(wait):
                    if key.data is None:
                        self._accept()
                    elif key.data is self._wake:
                        pass  # close() was asked: the loop's condition ends it
                    else:
                        self._read(key.data)
                overdue = self._expire()
        except Exception:  # a bug here would silently stop all accepting: it must reach the log
            log.exception("the door stopped accepting connections")
        finally:
            self._shut()

    def _accept(self) -> None:
        assert self._sock is not None
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    raise
                if self._callers:  # the oldest caller's descriptor is the room the newest needs
                    self._drop_oldest(f"out of resources ({exc.strerror})")
                    continue
                log.warning("cannot accept connections for a second: %s", exc.strerror)
                self._selector.unregister(self._sock)
                self._resting_until = time.monotonic() + 1.0
                return
            sock.setblocking(False)
            self._arrived(sock)

    def _rest_over(self) -> None:
        if self._resting_until and time.monotonic() >= self._resting_until:
            assert self._sock is not None
            self._selector.register(self._sock, selectors.EVENT_READ, None)
            self._resting_until = 0.0

    def _arrived(self, sock: socket.socket) -> None:
        """A new connection; over budget, the oldest caller is dropped to make room."""
        caller = Caller(sock, int((time.monotonic() + handshake_time()) / TICK) + 1)
        self._selector.register(sock, selectors.EVENT_READ, caller)
        self._callers[caller] = None
        self._due.setdefault(caller.due, set()).add(caller)
        while len(self._callers) > self.max_pending:
            self._drop_oldest(f"more than {self.max_pending} pending")

    def _drop_oldest(self, why: str) -> None:
        self.dropped += 1
        if self.dropped % 1000 == 1:
            log.warning("dropping the oldest stalled handshakes: %s", why)
        self._drop(next(iter(self._callers)))

    def _read(self, caller: Caller) -> None:
        if caller not in self._callers:  # dropped earlier in this round, after the selector saw it readable
            return
        try:
            data = caller.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer, say: nothing to answer
            data = b""
        if not data:  # the peer closed: a half-sent request stays unanswered
            self._drop(caller)
            return
        verdict = caller.hear(data)
        if verdict is None:
            return
        self._forget(caller)
        if isinstance(verdict, Refusal):
            self._refuse(caller.sock, verdict)
        else:
            self._hand_over(caller.sock, verdict)

    def _refuse(self, sock: socket.socket, refusal: Refusal) -> None:
        with contextlib.suppress(OSError):
            sock.send(self._render(refusal))  # a few hundred bytes: an empty send buffer takes them whole
        sock.close()

    def _hand_over(self, sock: socket.socket, head: bytes) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._letting_in_task, sock, head)
        except RuntimeError:  # the loop has closed: the server is gone
            sock.close()

    def _letting_in_task(self, sock: socket.socket, head: bytes) -> None:
        """On the event loop: run `let_in`, holding its task until it is done (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(self._let_in(sock, head))
        self._letting_in.add(task)
        task.add_done_callback(self._letting_in.discard)

    def _forget(self, caller: Caller) -> None:
        """The caller leaves the door, its socket still open."""
        del self._callers[caller]
        self._selector.unregister(caller.sock)
        bucket = self._due[caller.due]
        bucket.discard(caller)
        if not bucket:
            del self._due[caller.due]

    def _drop(self, caller: Caller) -> None:
        self._forget(caller)
        caller.sock.close()

    def _expire(self) -> bool:
        """Drop callers whose time is up, at most DROPS_PER_ROUND of them; True while more are due."""
        now = int(time.monotonic() / TICK)
        budget = DROPS_PER_ROUND
        for tick in sorted(tick for tick in self._due if tick <= now):
            bucket = self._due[tick]
            while bucket:  # emptied, it leaves self._due
                if not budget:
                    return True
                self._drop(next(iter(bucket)))
                budget -= 1
        return False

    def _shut(self) -> None:
        self._closing = True
        for caller in list(self._callers):
            self._drop(caller)
        self._selector.close()
        if self._sock is not None:
            self._sock.close()
        self._wake.close()
