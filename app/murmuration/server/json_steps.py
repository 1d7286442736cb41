"""JSON text for an answer in steps, so that a large one (10,000 log lines) never holds the event loop for long.

`json.dumps` is one C call that nothing interrupts: a 2 MB answer held the loop for tens of milliseconds at a
time, on a busy machine for hundreds, while every other client's ping waited. Here a long list is encoded
STEP items at a time, with the loop free between the steps; a small answer is still one `json.dumps`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

STEP = 256  # list items encoded between two turns of the loop
DEPTH = 3  # how deep in objects long lists are looked for: a result's own fields and theirs


def dump(value: Any) -> str:
    """Compact JSON, as every answer is sent."""
    return json.dumps(value, separators=(",", ":"))


async def dump_in_steps(value: Any) -> str:
    """The same text as `dump(value)`, made in steps when `value` holds a long list; TypeError or ValueError when
    `value` cannot be JSON."""
    if not _holds_long_list(value, DEPTH):
        return dump(value)
    parts: list[str] = []
    await _encode(value, parts, DEPTH)
    return "".join(parts)


def _holds_long_list(value: Any, depth: int) -> bool:
    if isinstance(value, list):
        return len(value) > STEP
    if isinstance(value, dict) and depth > 0:
        return any(_holds_long_list(item, depth - 1) for item in value.values())
    return False


async def _encode(value: Any, parts: list[str], depth: int) -> None:
    if isinstance(value, list) and len(value) > STEP:
        parts.append("[")
        for start in range(0, len(value), STEP):
            if start:
                parts.append(",")
                await asyncio.sleep(0)  # one turn of the loop for everyone else
            parts.append(dump(value[start : start + STEP])[1:-1])
        parts.append("]")
    elif isinstance(value, dict) and depth > 0 and all(isinstance(key, str) for key in value):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(("," if index else "") + dump(key) + ":")
            await _encode(item, parts, depth - 1)
        parts.append("}")
    else:
        parts.append(dump(value))
