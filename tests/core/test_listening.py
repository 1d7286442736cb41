"""Listening ports of a process tree (core/listening.py): the fast /proc + netlink path agrees with psutil's, and
a socket that is bound but not listening, or a client connection, never counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from murmuration.core.listening import _from_psutil, listening_of, listening_ports, url_of

CHILD_LISTENS = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "s.listen()\n"
    "print(s.getsockname()[1], flush=True)\n"
    "time.sleep(60)\n"
)


def test_own_sockets_listening_count_and_others_do_not() -> None:
    with socket.socket() as listening, socket.socket() as bound_only, socket.socket(socket.AF_INET6) as v6:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        bound_only.bind(("127.0.0.1", 0))
        v6.bind(("::1", 0))
        v6.listen()
        with socket.create_connection(listening.getsockname()):
            found = listening_ports(os.getpid())
            assert found == sorted(
                [("127.0.0.1", listening.getsockname()[1]), ("::1", v6.getsockname()[1])], key=lambda p: p[1]
            )
            assert found == _from_psutil(os.getpid())
    assert url_of("::1", 5000) == "http://[::1]:5000/"
    assert url_of("0.0.0.0", 5000) == "http://127.0.0.1:5000/"


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX shell as the middle of the tree")
def test_a_grandchild_listening_counts_for_its_ancestor() -> None:
    env = {**os.environ, "CODE": CHILD_LISTENS}
    shell = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "$CODE"; :'], env=env, stdout=subprocess.PIPE)
    try:
        assert shell.stdout is not None
        port = int(shell.stdout.readline())
        deadline = time.monotonic() + 10
        while (found := listening_of([shell.pid])[shell.pid]) != [("127.0.0.1", port)]:
            assert time.monotonic() < deadline, found
            time.sleep(0.02)
    finally:
        shell.kill()
        shell.wait()
