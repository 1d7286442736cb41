"""Waiting inside async tray tests: on signals and conditions, never on qtbot (its nested loop hangs qasync)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QImage
from PySide6.QtWebEngineCore import QWebEnginePage

POLL = 0.05


async def until(condition: Callable[[], Any], *signals: SignalInstance, timeout: float = 30.0, what: str = "") -> Any:
    """Wait until `condition()` is true: checked at each emission of `signals` and every 50 ms besides.

    The polling covers changes no signal announces (a process dying, a file appearing).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def check(*_: object) -> None:
        if done.done():
            return
        try:
            value = condition()
        except Exception as exc:  # a condition that raises fails the wait with its own error
            done.set_exception(exc)
            return
        if value:
            done.set_result(value)

    connections = [(signal, signal.connect(check)) for signal in signals]
    try:
        check()
        deadline = loop.time() + timeout
        while not done.done():
            if loop.time() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what or condition}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), POLL)
            check()
        return done.result()
    finally:
        for signal, _ in connections:
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(check)


async def emitted(signal: SignalInstance, timeout: float = 30.0) -> tuple[Any, ...]:
    """The arguments of the next emission of `signal`."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[tuple[Any, ...]] = loop.create_future()

    def got(*args: Any) -> None:
        if not future.done():
            future.set_result(args)

    signal.connect(got)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        with contextlib.suppress(RuntimeError, TypeError):
            signal.disconnect(got)


NAME_SHOWN = "document.getElementById('instance-name') && document.getElementById('instance-name').textContent"


async def dashboard_shows(page: QWebEnginePage, name: str, timeout: float = 60.0) -> None:
    """Wait until the signed-in dashboard shows the instance's `name`.

    The dashboard titles itself "<view> · <name>" once it has the instance's details over its WebSocket,
    so the page's titleChanged signal is the event to wait on.
    """
    try:
        # The dashboard isolates names (U+2068 … U+2069) so they cannot reorder the text around them.
        shown = lambda: page.title().replace("\u2068", "").replace("\u2069", "")  # noqa: E731
        await until(lambda: shown().endswith(f"· {name}"), page.titleChanged, timeout=timeout)
    except TimeoutError:
        facts = await run_js(
            page,
            "JSON.stringify({connection: document.body.dataset.connection, url: location.pathname,"
            " banner: (document.getElementById('banner-text') || {}).textContent, title: document.title})",
        )
        raise AssertionError(f"the dashboard never showed {name!r}: {facts}") from None
    assert await run_js(page, NAME_SHOWN) == name


async def run_js(page: QWebEnginePage, script: str, timeout: float = 10.0) -> Any:
    """The value of `script` evaluated in the page's main world."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def result(value: Any) -> None:
        if not future.done():
            future.set_result(value)

    page.runJavaScript(script, 0, result)
    return await asyncio.wait_for(future, timeout)


def painted(image: QImage) -> bool:
    """True when the image holds a rendered page: many colours across its whole area (not a blank frame)."""
    if image.width() < 100 or image.height() < 100:
        return False
    colours = {image.pixel(x, y) for x in range(5, image.width(), 37) for y in range(5, image.height(), 29)}
    right_edge = {image.pixel(image.width() - 3, y) for y in range(5, image.height(), 29)}
    return len(colours) > 3 and right_edge != {0xFF000000}
