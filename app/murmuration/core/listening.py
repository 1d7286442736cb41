"""Which TCP ports managed processes listen on — each one's whole tree, so a dev server started by `npm` counts.

Looked for twice a second while processes run, so it must be cheap. On Linux it reads /proc directly: a tree from
each thread's `children` list, socket inodes from `fd/`, and — only when one of them holds a socket at all — the
listening entries of /proc/net/tcp{,6}, once for every process. Elsewhere psutil asks the OS per process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Iterable

import psutil

Listening = list[tuple[str, int]]  # (address, port), sorted by port
LISTEN_STATE = "0A"
TCP_LISTEN = 10
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3


def listening_ports(pid: int) -> Listening:
    """(address, port) of every TCP socket that `pid` or a descendant of it listens on."""
    return listening_of([pid])[pid]


def listening_of(pids: Iterable[int]) -> dict[int, Listening]:
    """The listening sockets of each of `pids`' trees, found in one pass."""
    pids = list(pids)
    if sys.platform.startswith("linux") and os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return _from_proc(pids)
    return {pid: _from_psutil(pid) for pid in pids}


def url_of(address: str, port: int) -> str:
    """The URL a browser on this machine opens for a socket listening on `address`:`port`."""
    host = "[::1]" if address == "::1" else "127.0.0.1"
    return f"http://{host}:{port}/"


def _from_psutil(pid: int) -> Listening:
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


def _tree(pid: int) -> list[int]:
    members, pending = [], [pid]
    while pending:
        current = pending.pop()
        members.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    pending += [int(child) for child in f.read().split()]
    return members


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """inode → (address, port) of every listening TCP socket in this network namespace."""
    try:
        return _from_sock_diag()
    except OSError:
        return _from_proc_net()


def _from_sock_diag() -> dict[str, tuple[str, int]]:
    """Ask the kernel for listening TCP sockets only (netlink sock_diag, as `ss -l` does): /proc/net/tcp lists every
    connection on the machine, which takes a tenth of a second to read when tests leave thousands in TIME_WAIT."""
    if not sys.platform.startswith("linux"):
        raise OSError("netlink is Linux's")
    found: dict[str, tuple[str, int]] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as link:
        for family in (socket.AF_INET, socket.AF_INET6):
            request = struct.pack("=BBBxI48x", family, socket.IPPROTO_TCP, 0, 1 << TCP_LISTEN)
            header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
            link.send(header + request)
            while not _read_diag(link.recv(1 << 16), family, found):
                pass
    return found


def _read_diag(data: bytes, family: int, found: dict[str, tuple[str, int]]) -> bool:
    """Add the sockets of one netlink reply to `found`; True once the dump is done."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            raise OSError("sock_diag refused the request")
        body = offset + 16
        port = struct.unpack_from(">H", data, body + 4)[0]
        raw = data[body + 8 : body + 8 + (4 if family == socket.AF_INET else 16)]
        inode = struct.unpack_from("=I", data, body + 68)[0]
        found[str(inode)] = (socket.inet_ntop(family, raw), port)
        offset += (length + 3) & ~3
    return False


def _from_proc_net() -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError), open(f"/proc/net/{table}") as f:
            next(f, None)
            for line in f:
                fields = line.split(None, 10)
                if len(fields) > 9 and fields[3] == LISTEN_STATE:
                    address, _, port = fields[1].partition(":")
                    found[fields[9]] = (_address(address, family), int(port, 16))
    return found


def _address(hexadecimal: str, family: int) -> str:
    raw = bytes.fromhex(hexadecimal)
    # The kernel prints each 32-bit word in host order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return socket.inet_ntop(family, words)


def _from_proc(pids: list[int]) -> dict[int, Listening]:
    inodes: dict[int, set[str]] = {}
    for pid in pids:
        inodes[pid] = set()
        for member in _tree(pid):
            inodes[pid] |= _socket_inodes(member)
    if not any(inodes.values()):
        return {pid: [] for pid in pids}  # no process holds a socket: /proc/net/tcp need not be read
    listening = _listening_sockets()
    result: dict[int, Listening] = {}
    for pid, held in inodes.items():
        ports: dict[int, str] = {}
        for inode in held:
            if inode in listening:
                address, port = listening[inode]
                ports.setdefault(port, address)
        result[pid] = sorted(((address, port) for port, address in ports.items()), key=lambda pair: pair[1])
    return result
