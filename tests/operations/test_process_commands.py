"""Processes the way agents run them, through the real WebSocket API on real processes: shell strings,
output as it is printed (a pseudo-terminal), no pager waiting, numbered logs read with a cursor, grep and since,
and waiting for a verdict in one call."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells and pseudo-terminals")

PY = shlex.quote(sys.executable)
INVALID_PARAMS = -32602


async def call(client: InstanceClient, method: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(method, params)
    return result


async def finished(client: InstanceClient, process_id: str, timeout: float = 30) -> dict[str, Any]:
    result = await call(client, "wait_for_process", process_id=process_id, exit=True, timeout=timeout)
    assert result["wait"]["reason"] == "exit", result
    return result


async def stdout_of(client: InstanceClient, process_id: str) -> list[str]:
    page = await call(client, "get_process_logs", process_id=process_id, log_type="stdout", lines=10_000)
    return [line["text"] for line in page["lines"]]


# --- commands -------------------------------------------------------------------------------------------------


async def test_a_string_command_runs_in_the_platform_shell(client: InstanceClient) -> None:
    process = await call(client, "start_process", command="echo $((40 + 2)) | tr 4 x; exit 7", immediate=True)
    assert process["command"] == "echo $((40 + 2)) | tr 4 x; exit 7"
    done = await finished(client, process["id"])
    assert done["exit_code"] == 7
    assert await stdout_of(client, process["id"]) == ["x2"]


async def test_git_log_in_a_repository_with_many_commits_exits_by_itself(
    client: InstanceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its stdout is a terminal, so git would start `less` and wait for a key for ever — unless pagers are off."""
    repo = tmp_path / "repo"
    repo.mkdir()
    commits = "".join(
        f"commit refs/heads/main\ncommitter A <a@example.com> {1700000000 + i} +0000\ndata 10\ncommit {i:03}\n\n"
        for i in range(400)
    )
    await asyncio.to_thread(subprocess.run, ["git", "init", "-q", "-b", "main", str(repo)], check=True)
    fast_import = ["git", "-C", str(repo), "fast-import", "--quiet"]
    await asyncio.to_thread(subprocess.run, fast_import, input=commits.encode(), check=True)
    monkeypatch.delenv("GIT_PAGER", raising=False)
    monkeypatch.setenv("PAGER", "less")  # what a user's shell profile often says, inherited by the server
    process = await call(client, "start_process", command="git log --oneline", cwd=str(repo), immediate=True)
    done = await finished(client, process["id"], timeout=60)
    assert done["exit_code"] == 0
    lines = await stdout_of(client, process["id"])
    assert len(lines) == 400
    assert lines[0].endswith("commit 399")


async def test_stdout_is_a_terminal_and_stdin_is_not(client: InstanceClient) -> None:
    code = "import sys; print(sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty())"
    on = await call(client, "start_process", command=[sys.executable, "-c", code], immediate=True)
    off = await call(client, "start_process", command=[sys.executable, "-c", code], immediate=True, tty=False)
    await finished(client, on["id"])
    await finished(client, off["id"])
    assert await stdout_of(client, on["id"]) == ["False True False"]
    assert await stdout_of(client, off["id"]) == ["False False False"]


async def test_pagers_are_off_and_python_unbuffered_unless_the_caller_sets_them(client: InstanceClient) -> None:
    command = "echo $PAGER $GIT_PAGER $PYTHONUNBUFFERED"
    default = await call(client, "start_process", command=command, immediate=True)
    asked = await call(
        client,
        "start_process",
        command=command,
        immediate=True,
        env_vars={"PAGER": "more", "GIT_PAGER": "less -R", "PYTHONUNBUFFERED": "0"},
    )
    await finished(client, default["id"])
    await finished(client, asked["id"])
    assert await stdout_of(client, default["id"]) == ["cat cat 1"]
    assert await stdout_of(client, asked["id"]) == ["more less -R 0"]


async def test_progress_lines_and_colours_arrive_byte_for_byte(client: InstanceClient) -> None:
    command = r"printf '10%%\r50%%\r100%%\n\033[32mgreen\033[0m\n'"
    process = await call(client, "start_process", command=command, immediate=True)
    await finished(client, process["id"])
    assert await stdout_of(client, process["id"]) == ["10%\r50%\r100%", "\x1b[32mgreen\x1b[0m"]


@pytest.mark.parametrize("tty", [True, False])
async def test_python_http_server_started_as_a_string_is_heard_and_found_at_once(
    client: InstanceClient, monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    """Without PYTHONUNBUFFERED in the server's environment, the "Serving HTTP" line still arrives as printed."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    process = await call(
        client,
        "start_process",
        command=f"{PY} -m http.server 0 --bind 127.0.0.1",
        immediate=True,
        tty=tty,
        wait_for={"port": True, "timeout": 30},
    )
    try:
        assert process["wait"]["ready"] is True, process
        url = process["wait"]["url"]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert process["urls"] == [f"http://127.0.0.1:{port}/"]
        status = await call(client, "get_process_status", process_id=process["id"])
        assert status["urls"] == process["urls"]
        listed = await call(client, "list_processes")
        assert listed["processes"][0]["urls"] == process["urls"]
        found = await call(
            client, "wait_for_process", process_id=process["id"], log=rf"Serving HTTP on .* port {port}", timeout=1
        )
        assert found["wait"]["ready"] is True, found
        assert f"port {port}" in found["wait"]["line"]["text"]
    finally:
        await call(client, "stop_process", process_id=process["id"])


# --- waiting --------------------------------------------------------------------------------------------------


async def test_wait_for_process_exit_returns_the_exit_code_and_the_last_lines(client: InstanceClient) -> None:
    process = await call(client, "start_process", command='sh -c "echo ok; exit 3"')
    result = await call(client, "wait_for_process", process_id=process["id"], exit=True, timeout=30)
    assert result["wait"]["ready"] is True
    assert result["exit_code"] == 3
    assert result["state"] == "failed"
    assert "ok" in [line["text"] for line in result["wait"]["last_lines"]]


async def test_wait_for_a_log_line_and_a_timeout_that_leaves_it_running(client: InstanceClient) -> None:
    command = "echo starting; sleep 0.3; echo 'listening now'; sleep 300"
    process = await call(
        client, "start_process", command=command, immediate=True, wait_for={"log": "listening", "timeout": 20}
    )
    try:
        assert process["wait"]["ready"] is True
        assert process["wait"]["line"]["text"] == "listening now"
        started = time.monotonic()
        late = await call(client, "wait_for_process", process_id=process["id"], log="never printed", timeout=0.5)
        assert time.monotonic() - started >= 0.5
        assert late["wait"] == {
            "ready": False,
            "reason": "timeout",
            "message": late["wait"]["message"],
        }
        assert "keeps running" in late["wait"]["message"]
        assert late["state"] == "running"
    finally:
        await call(client, "stop_process", process_id=process["id"])


async def test_waiting_for_a_line_of_a_process_that_exits_first_says_so(client: InstanceClient) -> None:
    process = await call(
        client, "start_process", command="echo boom >&2; exit 2", immediate=True, wait_for={"log": "ready"}
    )
    assert process["wait"]["ready"] is False
    assert process["wait"]["reason"] == "exit"
    assert process["exit_code"] == 2
    assert [line["text"] for line in process["wait"]["last_lines"] if line["stream"] == "stderr"] == ["boom"]


# --- reading the log --------------------------------------------------------------------------------------------


async def test_a_cursor_poll_loop_sees_each_of_100000_lines_exactly_once_in_order(client: InstanceClient) -> None:
    code = "import sys\nw = sys.stdout.write\nfor i in range(100000):\n    w(f'{i}\\n')\n"
    process = await call(client, "start_process", command=[sys.executable, "-c", code], immediate=True)
    seen: list[str] = []
    cursor = 0
    ended = False
    while True:
        page = await call(
            client, "get_process_logs", process_id=process["id"], after=cursor, lines=10_000, log_type="stdout"
        )
        seen += [line["text"] for line in page["lines"]]
        assert page["next"] >= cursor
        cursor = page["next"]
        if ended and not page["lines"]:
            break
        if not page["lines"]:
            status = await call(client, "get_process_status", process_id=process["id"])
            ended = status["state"] in ("stopped", "failed")
            await asyncio.sleep(0.01)
    assert seen == [str(i) for i in range(100_000)]


async def test_a_cursor_poll_on_a_quiet_process_returns_nothing_not_the_tail_again(client: InstanceClient) -> None:
    process = await call(
        client, "start_process", command="echo one; echo two; sleep 300", immediate=True, wait_for={"log": "two"}
    )
    try:
        first = await call(client, "get_process_logs", process_id=process["id"])
        assert [line["text"] for line in first["lines"] if line["stream"] == "stdout"] == ["one", "two"]
        numbers = [line["n"] for line in first["lines"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert first["next"] == numbers[-1]
        for _ in range(3):
            again = await call(client, "get_process_logs", process_id=process["id"], after=first["next"])
            assert again["lines"] == []
            assert again["next"] == first["next"]
    finally:
        await call(client, "stop_process", process_id=process["id"])
    after_stop = await call(client, "get_process_logs", process_id=process["id"], after=first["next"])
    assert [line["stream"] for line in after_stop["lines"]] == ["system"]  # only the note of how it ended


async def test_grep_keeps_matching_lines_with_context_and_marks_the_matches(client: InstanceClient) -> None:
    command = "for i in 1 2 3 4 5 6 7 8 9; do echo line $i; done; echo ERROR disk; echo after"
    process = await call(client, "start_process", command=command, immediate=True)
    await finished(client, process["id"])
    page = await call(
        client, "get_process_logs", process_id=process["id"], grep=r"ERROR|line [36]", context=1, log_type="stdout"
    )
    shown = [(line["text"], line.get("match", False)) for line in page["lines"]]
    assert shown == [
        ("line 2", False),
        ("line 3", True),
        ("line 4", False),
        ("line 5", False),
        ("line 6", True),
        ("line 7", False),
        ("line 9", False),
        ("ERROR disk", True),
        ("after", False),
    ]
    forward = await call(client, "get_process_logs", process_id=process["id"], grep="^line", after=0, lines=2)
    assert [line["text"] for line in forward["lines"]] == ["line 1", "line 2"]
    rest = await call(client, "get_process_logs", process_id=process["id"], grep="^line", after=forward["next"])
    assert [line["text"] for line in rest["lines"]] == [f"line {i}" for i in range(3, 10)]


async def test_since_returns_the_lines_printed_from_a_time_on(client: InstanceClient) -> None:
    process = await call(
        client, "start_process", command="echo early; sleep 300", immediate=True, wait_for={"log": "early"}
    )
    try:
        page = await call(client, "get_process_logs", process_id=process["id"])
        later = page["lines"][-1]["time"]
        assert [line["text"] for line in page["lines"] if line["stream"] == "stdout"] == ["early"]
        since = await call(client, "get_process_logs", process_id=process["id"], since=later)
        assert "early" in [line["text"] for line in since["lines"]]
        future = await call(client, "get_process_logs", process_id=process["id"], since="2999-01-01T00:00:00Z")
        assert future["lines"] == []
        # Times whose UTC falls outside what a datetime holds are the first and the last moments there are.
        first = await call(client, "get_process_logs", process_id=process["id"], since="0001-01-01T00:00:00+00:01")
        assert first["lines"] == page["lines"]
        last = await call(client, "get_process_logs", process_id=process["id"], since="9999-12-31T23:59:59-00:01")
        assert last["lines"] == []
    finally:
        await call(client, "stop_process", process_id=process["id"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"grep": "(unclosed"}, "grep"),
        ({"since": "yesterday"}, "since"),
        ({"after": -1}, "after"),
        ({"context": 101}, "context"),
    ],
)
async def test_bad_log_queries_name_the_field(client: InstanceClient, params: dict[str, Any], field: str) -> None:
    process = await call(client, "start_process", command="true", immediate=True)
    with pytest.raises(RpcError) as caught:
        await call(client, "get_process_logs", process_id=process["id"], **params)
    assert caught.value.code == INVALID_PARAMS
    assert caught.value.data["field"] == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"log": "(unclosed"}, "log"),
        ({"exit": True, "timeout": 500}, "timeout"),
        ({}, "log"),
        ({"log": "x", "exit": True}, "log"),
    ],
)
async def test_bad_waits_name_the_field(client: InstanceClient, params: dict[str, Any], field: str) -> None:
    process = await call(client, "start_process", command="true", immediate=True)
    with pytest.raises(RpcError) as caught:
        await call(client, "wait_for_process", process_id=process["id"], **params)
    assert caught.value.code == INVALID_PARAMS
    assert caught.value.data["field"] == field
