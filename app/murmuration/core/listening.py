"""Which TCP ports a managed process listens on — its whole tree, so a dev server started by `npm` counts."""

from __future__ import annotations

import contextlib

import psutil


def listening_ports(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket that `pid` or a descendant of it listens on, sorted by port."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    found: dict[int, str] = {}
    for member in members:
        with contextlib.suppress(psutil.Error):
            for connection in member.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr:
                    found.setdefault(connection.laddr.port, connection.laddr.ip)
    return sorted(((ip, port) for port, ip in found.items()), key=lambda pair: pair[1])


def url_of(address: str, port: int) -> str:
    """The URL a browser on this machine opens for a socket listening on `address`:`port`."""
    host = "[::1]" if address == "::1" else "127.0.0.1"
    return f"http://{host}:{port}/"
