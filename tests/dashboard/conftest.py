"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium against real servers.

Every test gets a fresh `murmuration serve` child process (through the `servers` fixture) and a fresh browser
context signed in through a one-time `/login?code=…` link, as a person would. The context fails the test on any
request to a host other than the instance (which the browser's dead proxy keeps from leaving the machine), on any
JavaScript dialog, on uncaught page errors and (unless the test allows them) on console errors — so every test
also checks that no script from content ran and nothing left the machine.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import playwright.sync_api as playwright_sync
import pytest
from websockets.sync.client import connect

from tests.conftest import ServeProcess, Servers, port_block, range_text

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # Every request for another host goes to a closed port of this machine (Chromium never sends loopback
    # through a proxy), so nothing a page asks for can leave it; the guard records such requests and fails.
    # Cheaper than intercepting every request of every page through Playwright's routing.
    "--proxy-server=http://127.0.0.1:9",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results" / "dashboard"
TIMEOUT_MS = 10_000

# A missing browser is a failed setup, never a skipped suite: `make test` installs it.
assert CHROMIUM.exists(), "Chromium is missing: apt-get install chromium (packaging/debian-packages.txt)"


class RpcFailed(Exception):
    """An error answer from the instance."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


@dataclass
class Dashboard:
    """One served instance: its address and token, a JSON-RPC helper, and a way to restart it."""

    servers: Servers
    data_dir: Path
    server: ServeProcess
    url: str = ""
    token: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._read_runtime()

    def _read_runtime(self) -> None:
        runtime = json.loads((self.data_dir / "runtime.json").read_text())
        self.url, self.token = runtime["url"], runtime["token"]

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def login_url(self) -> str:
        """A fresh one-time sign-in link, asked for as the CLI and the tray ask."""
        return str(self.rpc("create_login_code")["login_url"])

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call an operation as another client (an agent, the CLI) would: its own socket, the bearer token."""
        socket_url = self.url.replace("http://", "ws://") + "ws"
        with connect(socket_url, additional_headers={"Authorization": f"Bearer {self.token}"}, max_size=None) as ws:
            request_id = next(self._ids)
            ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}))
            while True:
                message = json.loads(ws.recv(timeout=30))
                if message.get("id") == request_id:
                    if "error" in message:
                        raise RpcFailed(message["error"])
                    return message["result"]

    def stop(self) -> None:
        self.server.signal(signal.SIGTERM)
        assert self.server.finish() == 0, self.server.stderr.decode()

    def start(self) -> None:
        self.server = self.servers.start("--data-dir", str(self.data_dir))
        self._read_runtime()

    def restart(self) -> None:
        """SIGTERM the server, then serve the same data folder again (it gets its last port back)."""
        port = urlsplit(self.url).port
        self.stop()
        self.start()
        assert urlsplit(self.url).port == port, "the restarted server did not get its last port back"


@pytest.fixture
def dashboard(servers: Servers, tmp_path: Path) -> Dashboard:
    data_dir = tmp_path / "data"
    server = servers.start("--data-dir", str(data_dir))
    return Dashboard(servers, data_dir, server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module, each test in a context of its own. Not per session: Playwright's sync API keeps an
    event loop running in the thread while it is started, and the async tests a worker runs later could not run."""
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Guard:
    """What a page did that it must not: leave the machine, open dialogs, throw, log errors."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    allowed_console: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console(self, pattern: str) -> None:
        """Accept console errors matching `pattern` (e.g. the browser's own note that a socket failed)."""
        self.allowed_console.append(re.compile(pattern))

    def check(self) -> None:
        unexpected = [e for e in self.console_errors if not any(p.search(e) for p in self.allowed_console)]
        assert not self.foreign, f"requests left the machine: {self.foreign}"
        assert not self.dialogs, f"a script opened dialogs: {self.dialogs}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not unexpected, f"console errors: {unexpected}"


def same_origin(url: str, origin: str) -> bool:
    parts, own = urlsplit(url), urlsplit(origin)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "ws") and parts.netloc == own.netloc


def open_page(browser: Any, dashboard: Dashboard, guard: Guard, **context_options: Any) -> tuple[Any, Any]:
    """A fresh signed-in page on `dashboard`, watched by `guard`."""
    options = {"viewport": {"width": 1440, "height": 900}, **context_options}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)

    context.on(
        "request",
        lambda request: None if same_origin(request.url, dashboard.origin) else guard.foreign.append(request.url),
    )
    page = context.new_page()
    page.on("websocket", lambda ws: None if same_origin(ws.url, dashboard.origin) else guard.foreign.append(ws.url))

    def on_dialog(dialog: Any) -> None:
        guard.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: guard.page_errors.append(str(error)))
    page.on("console", lambda message: guard.console_errors.append(message.text) if message.type == "error" else None)
    page.goto(dashboard.login_url())
    page.wait_for_selector("body[data-connection='open']")
    return context, page


@contextmanager
def served(browser: Any, home: Path) -> Iterator[tuple[Dashboard, Any]]:
    """A served instance with its home in `home` and one signed-in page on it, for as long as the block runs."""
    pool = Servers()
    env = {"MURMURATION_HOME": str(home), "MURMURATION_PORT_RANGE": range_text(port_block(9))}
    try:
        data_dir = home / "data"
        dashboard = Dashboard(pool, data_dir, pool.start("--data-dir", str(data_dir), env=env))
        guard = Guard(dashboard.origin)
        context, page = open_page(browser, dashboard, guard)
        try:
            yield dashboard, page
        finally:
            context.close()
        guard.check()
    finally:
        pool.end_all()


@pytest.fixture(scope="module")
def shared_dashboard(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dashboard, Any]]:
    """One served instance and one signed-in page for a whole module, for tests that only read.

    Safe only where no test changes what another sees: the module's tests must not write to the instance.
    """
    with served(browser, tmp_path_factory.mktemp("shared-home")) as shared:
        yield shared


@pytest.fixture
def guard(dashboard: Dashboard) -> Guard:
    return Guard(dashboard.origin)


@pytest.fixture
def page(browser: Any, dashboard: Dashboard, guard: Guard) -> Iterator[Any]:
    """A signed-in dashboard page at 1440×900; the guard's rules are checked after the test."""
    context, page = open_page(browser, dashboard, guard)
    try:
        yield page
    finally:
        context.close()
    guard.check()


def goto(page: Any, dashboard: Dashboard, route: str) -> None:
    """Open a hash route as a person pasting a link would (a full load, not a hash change)."""
    page.goto(f"{dashboard.url}{route}")
    page.wait_for_selector("body[data-connection='open']")
