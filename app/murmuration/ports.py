"""Race-free port choice: a port counts as free only once this process listens on it.

The original Murmuration probed a port, closed it and bound later, so two instances
starting together could both pick 8080. Here the socket that won the port is the very
socket the server serves on.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

HOST = "127.0.0.1"
DEFAULT_RANGE = range(8080, 8180)
RANGE_ENV = "MURMURATION_PORT_RANGE"
PORT_ENV = "WS_PORT"


class PortUnavailable(Exception):
    """The fixed port asked for is held by someone else."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is in use")
        self.port = port


class BadPortSetting(ValueError):
    """A port or port range given by the user that cannot be a port."""


@dataclass
class PortLease:
    """A listening socket on loopback and how its port was chosen (fixed, last, range or ephemeral)."""

    sock: socket.socket
    port: int
    how: str


def parse_port(text: str, source: str) -> int:
    """A port number from user input; BadPortSetting names `source` when it is not one."""
    try:
        port = int(text)
    except ValueError:
        raise BadPortSetting(f"{source} must be a port number from 1 to 65535, not {text!r}.") from None
    if not 1 <= port <= 65535:
        raise BadPortSetting(f"{source} must be a port number from 1 to 65535, not {port}.")
    return port


def parse_range(text: str | None) -> range:
    """The range from `MURMURATION_PORT_RANGE=A-B` (inclusive), or the default 8080–8179."""
    if not text:
        return DEFAULT_RANGE
    first, sep, last = text.partition("-")
    if not sep:
        raise BadPortSetting(f"{RANGE_ENV} must look like 8080-8179, not {text!r}.")
    low = parse_port(first.strip(), RANGE_ENV)
    high = parse_port(last.strip(), RANGE_ENV)
    if low > high:
        raise BadPortSetting(f"{RANGE_ENV} must go from low to high, not {text!r}.")
    return range(low, high + 1)


def listen_on(port: int, host: str = HOST) -> socket.socket | None:
    """A socket bound to and listening on `port`, or None when the port is taken."""
    # IPPROTO_TCP explicitly: asyncio turns on TCP_NODELAY only for sockets that say so, and without it
    # a client's back-to-back requests wait ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        elif sys.platform.startswith("linux"):
            # Lets a restarted server take back its port while old connections sit in TIME_WAIT.
            # Two sockets may then bind the same port, but only one can listen: listen() decides.
            # Not on macOS/BSD, where it would also let us bind 127.0.0.1:P under a program on *:P.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except (OSError, OverflowError):
        sock.close()
        return None
    return sock


def lease_port(fixed: int | None, last: int | None, port_range: range) -> PortLease:
    """Listen on the first port that can be had: fixed → last → range → ephemeral (ARCHITECTURE.md, "Ports")."""
    if fixed is not None:
        sock = listen_on(fixed)
        if sock is None:
            raise PortUnavailable(fixed)
        return PortLease(sock, fixed, "fixed")
    if last is not None and 0 < last < 65536:
        sock = listen_on(last)
        if sock is not None:
            return PortLease(sock, last, "last")
    for port in port_range:
        sock = listen_on(port)
        if sock is not None:
            return PortLease(sock, port, "range")
    sock = listen_on(0)
    if sock is None:
        raise OSError("the operating system gave no ephemeral port on loopback")
    return PortLease(sock, sock.getsockname()[1], "ephemeral")


def port_settings(cli_port: int | None) -> tuple[int | None, range]:
    """The fixed port (from `--port`, else `WS_PORT`) and the range, read from the environment."""
    fixed = cli_port
    if fixed is None and os.environ.get(PORT_ENV):
        fixed = parse_port(os.environ[PORT_ENV], PORT_ENV)
    return fixed, parse_range(os.environ.get(RANGE_ENV))
