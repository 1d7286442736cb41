"""The waiting helper: it returns the first accepted value, and a timeout says what was awaited and seen."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.waiting import until, until_async


def test_until_returns_the_first_value_done_accepts() -> None:
    counter = itertools.count()
    assert until(lambda: next(counter), "the count to reach 3", every=0, done=lambda n: n >= 3) == 3


def test_until_fails_naming_what_it_waited_for_and_what_it_saw() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the moon; last seen: 'cheese'; it is far"):
        until(lambda: "cheese", "the moon", timeout=0.05, done=lambda v: v == "moon", detail=lambda: "it is far")


def test_an_error_in_the_condition_fails_the_wait_with_that_error() -> None:
    with pytest.raises(ZeroDivisionError):
        until(lambda: 1 / 0, "a number")


async def test_until_async_awaits_a_coroutine_condition() -> None:
    counter = itertools.count()

    async def count() -> int:
        return next(counter)

    assert await until_async(count, "the count to reach 2", every=0, done=lambda n: n >= 2) == 2


async def test_until_async_asks_again_as_soon_as_it_is_woken() -> None:
    wake = asyncio.Event()
    box: list[str] = []
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, lambda: (box.append("here"), wake.set()))
    began = loop.time()
    # Polled only every 60 s, so only the wake-up can end this wait in time.
    assert await until_async(lambda: box, "the box to fill", timeout=30, every=60, wake=wake) == ["here"]
    assert loop.time() - began < 30
