"""Answers encoded in steps (server/json_steps.py): the same text as one json.dumps, with the loop free between."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from murmuration.server.json_steps import STEP, dump_in_steps

LINES = [
    {"n": n, "time": "2026-01-01T00:00:00.000Z", "stream": "stdout", "text": f"line {n} é\u202e"}
    for n in range(3 * STEP + 7)
]


@pytest.mark.parametrize(
    "value",
    [
        {"jsonrpc": "2.0", "id": 1, "result": {"pong": True}},
        {"jsonrpc": "2.0", "id": "x", "result": {"lines": LINES, "next": 9, "more": "go on"}},
        {"jsonrpc": "2.0", "id": 2, "result": {"outer": {"lines": LINES}}},
        {"jsonrpc": "2.0", "id": 3, "result": LINES},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "result": {"empty": [], "exactly": list(range(STEP)), "one_more": list(range(STEP + 1))},
        },
        [1, 2, 3],
        "text",
        None,
    ],
)
async def test_the_text_is_what_one_json_dumps_makes(value: Any) -> None:
    assert await dump_in_steps(value) == json.dumps(value, separators=(",", ":"))


async def test_other_work_runs_while_a_long_answer_is_encoded() -> None:
    ran_meanwhile = asyncio.Event()
    encoding = asyncio.create_task(dump_in_steps({"result": {"lines": LINES}}))
    asyncio.get_running_loop().call_soon(ran_meanwhile.set)
    await asyncio.sleep(0)  # the encoding starts and reaches its first pause
    assert not encoding.done()
    assert ran_meanwhile.is_set()
    await encoding


async def test_a_value_that_is_not_json_is_refused_as_json_dumps_would() -> None:
    with pytest.raises(TypeError):
        await dump_in_steps({"result": {"lines": [*LINES, object()]}})
    circular: dict[str, Any] = {"lines": LINES}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        await dump_in_steps({"result": circular})
