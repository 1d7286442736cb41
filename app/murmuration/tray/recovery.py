"""What to tell when an instance is back: that it runs again, on which port, and what its crash cut short.

A server that starts after a crash finds the processes the crash cut short and either queues each again (its
restart policy says so) or marks it interrupted for good; `get_instance_info` reports both lists by title.
"""

from __future__ import annotations

from typing import Any

from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.datafolder import Runtime
from murmuration.tray.instance import shown

NAMED = 3  # titles named in a sentence before "and N more"


async def recovered(runtime: Runtime, timeout: float = 3.0) -> dict[str, list[str]]:
    """The processes the server of `runtime` found cut short when it started: {"interrupted": …, "restarted": …}."""
    try:
        async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
            info: Any = await client.call("get_instance_info")
    except (InstanceUnavailable, RpcError, OSError, TimeoutError):
        return {"interrupted": [], "restarted": []}
    found = info.get("recovered") if isinstance(info, dict) else None
    if not isinstance(found, dict):
        return {"interrupted": [], "restarted": []}
    return {key: [str(t) for t in found.get(key) or [] if isinstance(t, str)] for key in ("interrupted", "restarted")}


def back_sentence(
    label: str, after_crash: bool, port: int, earlier_port: int | None, cut_short: dict[str, list[str]]
) -> str | None:
    """One sentence for an instance that runs again (after a crash, or on a new port); None when nothing is news."""
    parts = []
    if earlier_port is not None and earlier_port != port:
        parts.append(f"port {earlier_port} was taken; now on {port}")
    interrupted, restarted = cut_short.get("interrupted", []), cut_short.get("restarted", [])
    if interrupted:
        parts.append(f"{_count(interrupted)} interrupted ({_titles(interrupted)})")
    if restarted:
        parts.append(f"{_count(restarted)} restarted ({_titles(restarted)})")
    if not after_crash and not parts:
        return None
    head = f"{label} is running again" if after_crash else f"{label} is running"
    return head + (": " + "; ".join(parts) if parts else "") + "."


def _count(titles: list[str]) -> str:
    return "1 process" if len(titles) == 1 else f"{len(titles)} processes"


def _titles(titles: list[str]) -> str:
    named = ", ".join(shown(t)[:60] for t in titles[:NAMED])
    return named + (f" and {len(titles) - NAMED} more" if len(titles) > NAMED else "")
