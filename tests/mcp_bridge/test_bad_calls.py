"""Bad and hostile calls: each is a tool error with a sentence, and the bridge and its instance keep working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.mcp_bridge.conftest import bridge, data_folder, ok, refused, running_pid

BAD_CALLS = [
    pytest.param("no_such_tool", {}, "no tool named 'no_such_tool'", id="unknown tool"),
    pytest.param("x" * 100_000, {}, "no tool named 'xxx", id="huge tool name"),
    pytest.param("record_issue", {}, "'title'", id="missing field"),
    pytest.param("record_issue", {"title": 42}, "'title'", id="wrong type"),
    pytest.param("record_issue", {"title": "t", "colour": "red"}, "'colour'", id="unknown field"),
    pytest.param("record_issue", {"title": "t", "status": "someday"}, "'status'", id="value outside the enum"),
    pytest.param("record_issue", {"title": "x" * 600_000}, "'title'", id="huge string under the socket limit"),
    pytest.param("record_issue", {"title": "x" * 2_000_000}, "too large", id="huge string over the socket limit"),
    pytest.param("get_issue", {"issue_id": "ISSUE_999"}, "ISSUE_999", id="unknown issue id"),
    pytest.param("get_process_status", {"process_id": "nope"}, "nope", id="unknown process id"),
    pytest.param("stop_process", {"process_id": "nope"}, "nope", id="stop an unknown process"),
    pytest.param("get_process_logs", {"process_id": "../../etc/passwd"}, "", id="path as a process id"),
    pytest.param("start_process", {"command": []}, "'command'", id="empty command"),
    pytest.param("start_process", {"command": ["/no/such/program"]}, "", id="program that does not exist"),
    pytest.param("get_web_ui_url", {"item": "ISSUE_1"}, "'view'", id="item without a view"),
]


async def test_bad_calls_are_tool_errors_and_the_bridge_keeps_working(project: Path) -> None:
    async with bridge(project) as client:
        await ok(client, "ping")
        pid = running_pid(data_folder(project))
        for tool, arguments, words in [p.values for p in BAD_CALLS]:
            sentence = await refused(client, tool, arguments)
            assert words in sentence, (tool, sentence[:300])
            assert len(sentence) < 2000, f"{tool}: an error sentence should not echo a huge value whole"
            # The same session, the same server: nothing was lost to the bad call.
            assert (await ok(client, "ping"))["pong"] is True
        assert running_pid(data_folder(project)) == pid
        assert (await ok(client, "list_issues"))["total"] == 0


async def test_an_error_names_the_bad_field_in_its_structured_content(project: Path) -> None:
    async with bridge(project) as client:
        result = await client.call_tool("update_issue", {"issue_id": "ISSUE_1", "priority": "urgent!"})
        assert result.is_error
        error = (result.structured_content or {})["error"]
        assert (error["kind"], error["code"], error["data"]["field"]) == ("invalid_params", -32602, "priority")


# --- the wire itself: what a broken or hostile client can send, and what comes back on stdout ----------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def call(request_id: int, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


class RawBridge:
    """A bridge driven line by line, with every line of its stdout kept."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "murmuration", "mcp"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
        )
        self.lines: list[bytes] = []
        self.answers: dict[Any, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if isinstance(message, dict) and "id" in message:
                    self.answers[message["id"]] = message
                self._changed.notify_all()

    def send(self, *messages: Any, raw: bytes = b"") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages) + raw)
        self.proc.stdin.flush()

    def answer(self, request_id: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while request_id not in self.answers:
                left = deadline - time.monotonic()
                assert left > 0, f"no answer to {request_id}; stdout so far: {self.lines[-5:]!r}"
                self._changed.wait(left)
            return self.answers[request_id]

    def close(self) -> tuple[int, bytes]:
        """Close stdin as an agent does when it leaves; the bridge must exit on its own."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


@pytest.fixture
def raw_bridge(project: Path) -> Any:
    bridges: list[RawBridge] = []

    def start() -> RawBridge:
        bridges.append(RawBridge(project))
        return bridges[-1]

    yield start
    for each in bridges:
        if each.proc.poll() is None:
            each.proc.kill()
            each.proc.wait()


def tool_error(answer: dict[str, Any]) -> str:
    assert "result" in answer, answer
    assert answer["result"]["isError"] is True, answer
    return str(answer["result"]["content"][0]["text"])


def test_stdout_carries_nothing_but_json_rpc_and_hostile_frames_get_answers(raw_bridge: Any, project: Path) -> None:
    bridge_process = raw_bridge()
    bridge_process.send(INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert bridge_process.answer(0)["result"]["serverInfo"]["name"] == "murmuration"
    bridge_process.send(
        call(1, {"name": "record_issue", "arguments": ["title", "x"]}),
        call(2, {"name": "record_issue", "arguments": "title=x"}),
        call(3, {"name": "record_issue", "arguments": 7}),
        call(4, {"name": 12, "arguments": {}}),
        call(5, {"name": "record_issue", "arguments": {"title": "a" * 1_500_000}}),
        call(6, {"name": "record_issue", "arguments": {"title": "after all that"}}),
        raw=b'this line is not JSON\n{"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}\n',
    )
    assert "not an array" in tool_error(bridge_process.answer(1))
    assert "not a string" in tool_error(bridge_process.answer(2))
    assert "not a number" in tool_error(bridge_process.answer(3))
    assert "name as a string" in tool_error(bridge_process.answer(4))
    assert "too large" in tool_error(bridge_process.answer(5))
    created = bridge_process.answer(6)["result"]
    assert created["isError"] is False
    assert created["structuredContent"]["title"] == "after all that"
    assert bridge_process.answer(7)["error"]["code"] == -32601
    code, stderr = bridge_process.close()
    assert code == 0, stderr.decode()
    assert bridge_process.lines, "the bridge said nothing"
    for line in bridge_process.lines:
        message = json.loads(line)  # every line of stdout is one JSON-RPC message
        assert message["jsonrpc"] == "2.0", line
    # The bridge's own notes went to the instance's log folder instead.
    assert "connected to shop-" in (data_folder(project).path / "logs" / "mcp-bridge.log").read_text()
