"""One tray per user session and base folder: a second launch hands its arguments to the first and exits.

Who is first is decided by an OS lock on `<base>/tray.lock` (freed by the OS when its holder dies, so a killed
tray never blocks the next one); the arguments travel over a QLocalServer only the user can reach.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from murmuration.home import base_folder
from murmuration.lock import FolderLock, FolderLocked

log = logging.getLogger(__name__)

HAND_OVER_TIMEOUT = 10.0
MAX_MESSAGE = 64 * 1024


def server_name() -> str:
    """The local socket's name: one per user and per base folder (so a test's MURMURATION_HOME has its own)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha256(f"{user}\0{base_folder()}".encode()).hexdigest()[:16]
    return f"murmuration-tray-{digest}"


class SingleInstance(QObject):
    """The first tray holds the lock and listens; later launches send it their arguments."""

    arguments_received = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name()
        self._lock = FolderLock(base_folder() / "tray.lock")
        self._server: QLocalServer | None = None

    def claim(self) -> bool:
        """True when this process is the first tray (it keeps the lock until it exits)."""
        base_folder().mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except FolderLocked:
            return False
        return True

    def listen(self) -> None:
        """Accept the arguments of later launches (call after `claim` succeeded, with an event loop running)."""
        # We hold the lock, so a socket file left under this name is a dead tray's: remove it.
        QLocalServer.removeServer(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            log.warning("cannot listen on %s: %s", self.name, server.errorString())
            return
        server.newConnection.connect(self._accept)
        self._server = server

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            buffer = bytearray()

            def read(socket: QLocalSocket = socket, buffer: bytearray = buffer) -> None:
                buffer.extend(socket.readAll().data())
                if b"\n" not in buffer and len(buffer) < MAX_MESSAGE:
                    return
                socket.readyRead.disconnect()
                args = parse_message(bytes(buffer).split(b"\n", 1)[0])
                socket.write(b"ok\n")
                socket.flush()
                socket.disconnectFromServer()
                if args is not None:
                    self.arguments_received.emit(args)

            socket.readyRead.connect(read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                read()

    def hand_over(self, args: list[str], timeout: float = HAND_OVER_TIMEOUT) -> bool:
        """Send `args` to the first tray and wait for its answer (blocking: used before any window exists)."""
        deadline = time.monotonic() + timeout
        message = json.dumps({"args": args}).encode() + b"\n"
        while time.monotonic() < deadline:
            socket = QLocalSocket()
            socket.connectToServer(self.name)
            # The first tray may be starting right now, its socket not open yet: try again for a while.
            if not socket.waitForConnected(500):
                time.sleep(0.1)
                continue
            socket.write(message)
            socket.waitForBytesWritten(2000)
            answer = b""
            while b"\n" not in answer and socket.waitForReadyRead(max(1, int((deadline - time.monotonic()) * 1000))):
                answer += socket.readAll().data()
            socket.disconnectFromServer()
            return answer.startswith(b"ok")
        return False

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.release()


def parse_message(raw: bytes) -> list[str] | None:
    """The argument list in one hand-over message, or None when it is not one."""
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return None
    args = value.get("args") if isinstance(value, dict) else None
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None
    return list(args)
