"""A regular expression that backtracks for ever, sent by an agent through a real MCP client, is a tool error
naming its field, while the same agent's other calls go on being answered and the process it read keeps running."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.mcp_bridge.conftest import bridge, ok, text_of

PRINTS = [
    sys.executable,
    "-c",
    "import time; print('a' * 60 + '!', flush=True); print('up', flush=True); time.sleep(60)",
]


async def test_a_catastrophic_grep_is_refused_and_the_instance_goes_on_answering(project: Path) -> None:
    async with bridge(project) as client:
        process = await ok(client, "start_process", command=PRINTS, tty=False, wait_for={"log": "up"})
        attack = asyncio.create_task(
            client.call_tool("get_process_logs", {"process_id": process["id"], "grep": "(a|aa)+$"})
        )
        answered = 0
        while not attack.done():
            assert (await asyncio.wait_for(ok(client, "ping"), 5))["pong"] is True
            answered += 1
            await asyncio.wait({attack}, timeout=0.05)
        result = await attack
        assert result.is_error
        assert isinstance(result.structured_content, dict)
        assert result.structured_content["error"]["data"]["field"] == "grep", text_of(result)
        assert "simpler" in text_of(result)
        assert answered >= 1
        [status] = (await ok(client, "list_processes", ids=[process["id"]]))["processes"]
        assert status["state"] == "running"
        await ok(client, "stop_process", process_id=process["id"], force=True)
