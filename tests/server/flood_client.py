"""The attacker of the flood tests, run as its own process: holds COUNT unauthenticated connections open.

    python tests/server/flood_client.py PORT COUNT idle|slowloris

Every connection the server closes is opened again at once, so the pressure never lets up. `slowloris`
sends each connection one more byte of a request every DRIP seconds, so none is ever idle. It prints
`holding COUNT` once COUNT connections are up, and, when its stdin closes, `reopened N` and exits.
"""

from __future__ import annotations

import resource
import selectors
import socket
import sys
import time

DRIP = 2.0
REQUEST = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" + b"X-Slow: " + b"a" * 4000


def main(port: int, count: int, mode: str) -> None:
    wanted = count + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))  # root may raise hard
    selector = selectors.DefaultSelector()
    sent: dict[socket.socket, int] = {}
    reopened = 0

    def open_one() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            return
        selector.register(sock, selectors.EVENT_READ)
        sent[sock] = 0

    selector.register(sys.stdin, selectors.EVENT_READ)
    for _ in range(count):
        open_one()
    announced = False
    next_drip = time.monotonic() + DRIP
    while True:
        for key, _ in selector.select(timeout=0.2):
            if key.fileobj is sys.stdin:
                print(f"reopened {reopened}", flush=True)
                return
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # closed by the server: come straight back
                selector.unregister(sock)
                sock.close()
                del sent[sock]
                reopened += 1
                open_one()
        if not announced and len(sent) >= count:
            print(f"holding {len(sent)}", flush=True)
            announced = True
        if mode == "slowloris" and time.monotonic() >= next_drip:
            next_drip += DRIP
            for sock, done in list(sent.items()):
                if done < len(REQUEST):
                    try:
                        sock.send(REQUEST[done : done + 1])
                        sent[sock] = done + 1
                    except OSError:
                        pass


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
