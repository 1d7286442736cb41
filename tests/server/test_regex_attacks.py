"""A regular expression that backtracks for ever — `(a|aa)+$` against a line of a's — sent as grep or as a
wait's log pattern never freezes a real `murmuration serve`: pings answer all along, the call is refused naming the
field within its time budget, and the process it read keeps running."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.contract import INVALID_PARAMS
from murmuration.datafolder import DataFolder
from tests.conftest import Servers

# Exponential in the number of a's before the final character: with `re`, 60 of them take longer than the universe.
EVIL = "(a|aa)+$"
LINE = "a" * 60 + "!"
PRINTS_AND_WAITS = [
    sys.executable,
    "-c",
    f"import sys, time; print({LINE!r}, flush=True); print('ready', flush=True); time.sleep(600)",
]


def attacks(process_id: str) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("get_process_logs", {"process_id": process_id, "grep": EVIL}, "grep"),
        ("get_process_logs", {"process_id": process_id, "wait_for": {"log": EVIL, "timeout": 60}}, "wait_for.log"),
        ("wait_for_process", {"process_id": process_id, "log": EVIL, "timeout": 60}, "log"),
        ("start_process", {"command": PRINTS_AND_WAITS, "tty": False, "wait_for": {"log": EVIL}}, "wait_for.log"),
    ]


@pytest.mark.parametrize("attack", range(4), ids=["grep", "logs-wait_for", "wait_for_process", "start-wait_for"])
async def test_a_catastrophic_regex_is_refused_while_the_instance_keeps_answering(
    servers: Servers, tmp_path: Path, attack: int
) -> None:
    data = tmp_path / "data"
    servers.start("--data-dir", str(data))
    async with await InstanceClient.for_folder(DataFolder(data)) as client:
        process = await client.call("start_process", {"command": PRINTS_AND_WAITS, "tty": False, "immediate": True})
        await client.call("get_process_logs", {"process_id": process["id"], "wait_for": {"log": "^ready$"}})
        method, params, field = attacks(process["id"])[attack]

        async with await InstanceClient.for_folder(DataFolder(data)) as attacker:
            call = asyncio.create_task(attacker.call(method, params))
            pings = 0
            while not call.done():
                started = time.monotonic()
                await asyncio.wait_for(client.call("ping"), 5)
                assert time.monotonic() - started < 5
                pings += 1
                await asyncio.wait({call}, timeout=0.05)
            with pytest.raises(RpcError) as caught:
                await asyncio.wait_for(call, 30)
        assert (caught.value.code, caught.value.data["field"]) == (INVALID_PARAMS, field), caught.value.message
        assert "simpler" in caught.value.message
        assert pings >= 1
        status = await client.call("get_process_status", {"process_id": process["id"]})
        assert status["state"] == "running"
        # A sane pattern still finds the line afterwards.
        found = await client.call("get_process_logs", {"process_id": process["id"], "grep": "^a+!$"})
        assert [line["text"] for line in found["lines"]] == [LINE]
        await client.call("stop_process", {"process_id": process["id"], "force": True})
