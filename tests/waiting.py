"""The one way tests wait: for a condition, with a deadline, failing with what was awaited and what was seen.

    value = until(lambda: folder.read_runtime(), "the runtime file", timeout=10)
    state = await until_async(lambda: client.call("get_process_status", params), "the process to stop",
                              done=lambda s: s["state"] == "stopped")

A condition is asked again every `every` seconds (and, in async code, at once whenever `wake` is set), and the
first value `done` accepts (by default: any truthy value) is returned. An exception from the condition fails the
wait with that exception. When the deadline passes the test fails with an AssertionError naming `what`, the last
value seen and, if given, `detail()` — so a timeout in a loaded CI run says what was missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

EVERY = 0.05


class Deadline:
    """A point in time to give up at, and how much is left before it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def _truthy(value: Any) -> bool:
    return bool(value)


def _timed_out(what: str, deadline: Deadline, last: Any, detail: Callable[[], Any] | None) -> AssertionError:
    message = f"timed out after {deadline.seconds:g} s waiting for {what}; last seen: {last!r}"[:2000]
    if detail is not None:
        message += f"; {detail()}"[:2000]
    return AssertionError(message)


def until(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = 30.0,
    every: float = EVERY,
    done: Callable[[T], Any] = _truthy,
    detail: Callable[[], Any] | None = None,
) -> T:
    """The first value of `condition()` that `done` accepts, asked every `every` s; fails after `timeout` s."""
    deadline = Deadline(timeout)
    while True:
        value = condition()
        if done(value):
            return value
        if deadline.passed():
            raise _timed_out(what, deadline, value, detail)
        time.sleep(min(every, deadline.left()) or every)


async def until_async(
    condition: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    timeout: float = 30.0,
    every: float = EVERY,
    done: Callable[[T], Any] = _truthy,
    detail: Callable[[], Any] | None = None,
    wake: asyncio.Event | None = None,
) -> T:
    """As `until`, without blocking the event loop; `condition` may be a coroutine function.

    With `wake`, the condition is asked again as soon as the event is set (the helper clears it), so a wait on
    something that announces its changes reacts at once instead of at the next poll.
    """
    deadline = Deadline(timeout)
    while True:
        if wake is not None:
            wake.clear()
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if done(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        if deadline.passed():
            raise _timed_out(what, deadline, value, detail)
        pause = min(every, deadline.left()) or every
        if wake is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), pause)
