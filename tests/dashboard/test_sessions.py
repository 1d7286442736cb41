"""Attacks on the dashboard's sign-in through a real Chromium: other local ports, planted cookies, revocation.

Cookies do not separate ports: whatever a browser keeps as a cookie for 127.0.0.1 it sends to every listener on
127.0.0.1. A listener here records every byte a signed-in browser sends it, and every value is replayed at the
instance's socket in every place a credential could go. None may open it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard
from tests.waiting import until

TIMEOUT = 10.0
REVOKED_WITHIN_MS = 1000

# Sent by the other port's page: requests of every kind a page makes by itself, each to its own origin.
ELSEWHERE_PAGE = """<!doctype html><meta charset="utf-8"><title>elsewhere</title>
<img src="/pixel.png" alt="">
<script>
{plant}
fetch("/fetched", {{ credentials: "include" }}).catch(() => {{}});
try {{ new WebSocket("ws://" + location.host + "/ws"); }} catch (error) {{}}
</script>
"""

# Cookies another port may plant for 127.0.0.1: the old session cookie's name on every path, others, and bulk.
PLANT = """
// As many and as large as the browser keeps (some 600 KB): far beyond an HTTP parser's 8 KiB line limit.
for (let i = 0; i < 160; i++) document.cookie = `bulk${{i}}=${{"x".repeat(4080)}}; path=/; max-age=86400`;
const id = "{instance_id}";
for (const path of ["/", "/ws", "/login", "/session", "/assets"]) {{
  document.cookie = `murmuration_${{id}}=planted-by-another-port; path=${{path}}; max-age=86400`;
}}
document.cookie = "murmuration.session=planted; path=/; max-age=86400";
document.cookie = "session=planted; path=/; max-age=86400";
"""


class Recorder:
    """A listener on another local port (a dev server, another user's program): records all it receives."""

    def __init__(self, page: str) -> None:
        self.page = page.encode()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                with self._lock:
                    self.received.append(data)
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(self.page)}\r\n"
                with contextlib.suppress(OSError):
                    conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + self.page)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.split(b" ", 2)[1].decode() for r in self.received if r.count(b" ") >= 2]

    def headers(self) -> list[list[tuple[str, str]]]:
        """Each received request's headers, as sent."""
        with self._lock:
            requests = list(self.received)
        parsed = []
        for request in requests:
            lines = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
            parsed.append([(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines) if k])
        return parsed

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def elsewhere(dashboard: Dashboard) -> Iterator[Recorder]:
    recorder = Recorder(ELSEWHERE_PAGE.format(plant=""))
    try:
        yield recorder
    finally:
        recorder.close()


def upgrade_status(dashboard: Dashboard, headers: list[tuple[str, str]]) -> int:
    """The status with which the instance answers a WebSocket upgrade carrying `headers` (a forged own Origin)."""
    port = int(dashboard.origin.rsplit(":", 1)[1])
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Origin: {dashboard.origin}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def credential_slots(value: str) -> list[list[tuple[str, str]]]:
    """Every place a replayed value could open the socket from."""
    return [
        [("Cookie", value)],
        [("Authorization", value)],
        [("Authorization", f"Bearer {value}")],
        [("Sec-WebSocket-Protocol", f"murmuration.v1, {value}")],
        [("Sec-WebSocket-Protocol", f"murmuration.v1, murmuration.session.{value}")],
    ]


def candidate_values(requests: list[list[tuple[str, str]]]) -> set[str]:
    """Every header value received, every cookie pair and cookie value in it, and every comma-separated part."""
    values: set[str] = set()
    for headers in requests:
        for name, value in headers:
            values.add(value)
            parts = value.split(";") if name.lower() == "cookie" else value.split(",")
            for part in (p.strip() for p in parts):
                values.update({part, part.partition("=")[2]})
    values.discard("")
    return values


def sign_in(context: Any, dashboard: Dashboard) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.goto(dashboard.login_url())
    page.wait_for_selector("body[data-connection='open']")
    return page


def stored_session(page: Any) -> str:
    session = page.evaluate("localStorage.getItem('murmuration.session')")
    assert isinstance(session, str)
    assert session
    return session


def test_nothing_a_signed_in_browser_sends_to_another_port_opens_the_instance(
    browser: Any, dashboard: Dashboard, elsewhere: Recorder
) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, dashboard)
        session = stored_session(page)
        other = context.new_page()
        other.goto(elsewhere.url)
        until(
            lambda: {"/", "/pixel.png", "/fetched", "/ws"} <= set(elsewhere.paths()),
            "the other port's listener to see every request",
            timeout=10,
        )
        # The other port's page cannot read the session: storage is per origin, port included.
        assert other.evaluate("localStorage.length") == 0
        assert other.evaluate("document.cookie") == ""
        requests = elsewhere.headers()
        everything = "\n".join(f"{k}: {v}" for headers in requests for k, v in headers)
        assert session not in everything
        assert dashboard.token not in everything

        # Replayed from a client that forges the instance's own Origin, no received value opens the socket.
        opened = []
        for value in sorted(candidate_values(requests)):
            for slot in credential_slots(value):
                if upgrade_status(dashboard, slot) == 101:
                    opened.append(slot)
        for headers in requests:
            kept = [(k, v) for k, v in headers if k.lower() not in {"host", "origin", "upgrade", "connection"}]
            kept = [(k, v) for k, v in kept if not k.lower().startswith("sec-websocket-")]
            if upgrade_status(dashboard, kept) == 101:
                opened.append(kept)
        assert opened == []
        # The replay is not blind: the session itself, where the page puts it, does open the socket.
        assert upgrade_status(dashboard, credential_slots(session)[-1]) == 101
    finally:
        context.close()


def test_cookies_planted_by_another_port_do_not_lock_the_dashboard_out(browser: Any, dashboard: Dashboard) -> None:
    instance_id = dashboard.rpc("get_instance_info")["id"]
    planter = Recorder(ELSEWHERE_PAGE.format(plant=PLANT.format(instance_id=instance_id)))
    context = browser.new_context()
    try:
        page = sign_in(context, dashboard)
        other = context.new_page()
        other.goto(planter.url)
        until(lambda: any(c["name"] == "session" for c in context.cookies()), "the planted cookies", timeout=10)
        planted = {c["name"] for c in context.cookies(dashboard.url)}
        assert f"murmuration_{instance_id}" in planted  # the browser does send them to the instance's port
        assert "session" in planted
        assert sum(len(c["value"]) for c in context.cookies(dashboard.url)) > 600_000

        # The signed-in page reloads and works, and a fresh sign-in in the same browser works too.
        page.reload()
        page.wait_for_selector("body[data-connection='open']")
        expect(page.locator("#instance-name")).to_have_text(dashboard.rpc("get_instance_info")["name"])
        page.evaluate("localStorage.clear()")
        fresh = sign_in(context, dashboard)
        expect(fresh.locator("body")).not_to_have_class("signin")
        fresh.goto(f"{dashboard.url}#/issues")
        fresh.wait_for_selector("body[data-connection='open']")
    finally:
        context.close()
        planter.close()


def test_a_revoked_session_stops_working_within_a_second_in_every_tab(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context()
    try:
        first = sign_in(context, dashboard)
        # A second tab of the same dashboard needs no sign-in of its own: the origin's storage is shared.
        second = context.new_page()
        second.goto(dashboard.url)
        second.wait_for_selector("body[data-connection='open']")
        session = stored_session(first)
        assert dashboard.rpc("list_sessions")["count"] == 1

        assert dashboard.rpc("revoke_sessions")["revoked"] == 1
        revoked_at = time.monotonic()
        for page in (first, second):
            page.wait_for_selector("body.signin", timeout=REVOKED_WITHIN_MS)
            expect(page.locator(".signin-reason")).to_contain_text("signed out")
        assert time.monotonic() - revoked_at < REVOKED_WITHIN_MS / 1000
        assert upgrade_status(dashboard, credential_slots(session)[-1]) == 401
        assert first.evaluate("localStorage.getItem('murmuration.session')") is None
        # A new one-time link signs the browser in again, and the other tab follows by itself.
        sign_in(context, dashboard)
        second.wait_for_selector("body[data-connection='open']")
    finally:
        context.close()


def test_sign_out_everywhere_in_the_dashboard_ends_every_browser(browser: Any, dashboard: Dashboard) -> None:
    mine, theirs = browser.new_context(), browser.new_context()
    try:
        page = sign_in(mine, dashboard)
        other = sign_in(theirs, dashboard)
        page.get_by_role("button", name="Sign out everywhere").click()
        dialog = page.locator("dialog.confirm")
        expect(dialog).to_contain_text("all 2 browser sessions")
        dialog.get_by_role("button", name="Sign out everywhere").click()
        page.wait_for_selector("body.signin")
        other.wait_for_selector("body.signin", timeout=REVOKED_WITHIN_MS * 2)
        assert dashboard.rpc("list_sessions")["count"] == 0
    finally:
        mine.close()
        theirs.close()


def test_a_used_code_signs_nobody_in_and_never_stays_in_the_address(browser: Any, dashboard: Dashboard) -> None:
    link = dashboard.login_url()
    context = browser.new_context()
    try:
        page = sign_in_with(context, link)
        page.wait_for_selector("body[data-connection='open']")
        assert "code=" not in page.url
    finally:
        context.close()
    replay = browser.new_context()
    try:
        page = sign_in_with(replay, link)
        page.wait_for_selector("body.signin")
        expect(page.locator(".signin-reason")).to_contain_text("wrong, used or expired")
        assert "code=" not in page.url
        assert page.evaluate("localStorage.length") == 0
    finally:
        replay.close()


def sign_in_with(context: Any, link: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.goto(link)
    return page


def test_a_signed_in_tab_keeps_working_across_a_restart_of_its_instance(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context()
    try:
        page = sign_in(context, dashboard)
        sockets: list[Any] = []
        page.on("websocket", lambda ws: sockets.append(ws))
        dashboard.restart()
        # Evaluated first, so Playwright delivers the page's socket events meanwhile.
        until(
            lambda: page.evaluate("document.body.dataset.connection") == "open" and len(sockets) >= 1,
            "the dashboard to connect again",
            timeout=20,
        )
        assert not sockets[-1].is_closed()
        expect(page.locator("body")).not_to_have_class("signin")
    finally:
        context.close()
