"""The process manager's core (core/processes.py, process_records.py, queue_config.py) on a real state.db and real
processes: finding programs, the queue's order and cap, backoff, recovery after a crash, and spawn failures."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from murmuration.core.errors import Conflict, Invalid
from murmuration.core.events import EventBus
from murmuration.core.line_pattern import LinePattern
from murmuration.core.process_records import ProcessRecords, StartRequest
from murmuration.core.processes import ProcessManager, WaitFor, find_program
from murmuration.core.queue_config import QueueConfig
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store
from murmuration.selfcommand import self_command
from tests.waiting import until_async


def request(argv: list[str], cwd: Path, priority: int = 5, **more: Any) -> StartRequest:
    return StartRequest(
        command=argv, title=" ".join(argv), name=argv[0], cwd=str(cwd), env={}, priority=priority, **more
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "state.db", MIGRATIONS)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def new_manager(store: Store, tmp_path: Path, work: Path, events: EventBus | None = None) -> ProcessManager:
    return ProcessManager(store, events or EventBus(), tmp_path / "logs", str(work), self_command("_reap"))


@pytest.fixture
async def manager(store: Store, tmp_path: Path, work: Path) -> AsyncIterator[ProcessManager]:
    opened = new_manager(store, tmp_path, work)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def configure(store: Store, **values: Any) -> None:
    config = QueueConfig.load(store)
    for key, value in values.items():
        setattr(config, key, value)
    config.save(store)


# --- finding programs -----------------------------------------------------------------------------------------


def executable(path: Path, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(mode)
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_find_program_looks_in_path_and_relative_to_the_working_directory(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    tool = executable(tools / "my-tool")
    executable(tmp_path / "local.sh")
    executable(tmp_path / "not-executable.sh", 0o644)
    (tmp_path / "folder").mkdir()
    plain = {"PATH": os.environ["PATH"]}
    assert find_program("sh", str(tmp_path), plain) is not None
    assert find_program("my-tool", str(tmp_path), plain) is None
    assert find_program("my-tool", str(tmp_path), {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}) == str(tool)
    assert find_program("./local.sh", str(tmp_path), plain) == str(tmp_path / "local.sh")
    assert find_program(str(tool), "/", plain) == str(tool)
    assert find_program("./not-executable.sh", str(tmp_path), plain) is None
    assert find_program("./folder", str(tmp_path), plain) is None
    assert find_program("./missing", str(tmp_path), plain) is None
    assert find_program("no-such-program-murmuration", str(tmp_path), plain) is None


async def test_check_names_the_field_it_refuses(manager: ProcessManager, tmp_path: Path, work: Path) -> None:
    (tmp_path / "a-file").write_text("")
    cases: list[tuple[list[str], str | None, str]] = [
        ([], None, "command"),
        (["  "], None, "command"),
        (["no-such-program-murmuration"], None, "command"),
        (["sh"], str(tmp_path / "a-file"), "cwd"),
        (["sh"], str(tmp_path / "missing"), "cwd"),
    ]
    for argv, cwd, field in cases:
        with pytest.raises(Invalid) as caught:
            manager.check(argv, cwd, {})
        assert caught.value.field == field, (argv, cwd)
    assert manager.check(["sh", "-c", "true"], None, {}) == (["sh", "-c", "true"], str(work))


# --- queue configuration ------------------------------------------------------------------------------------------


def test_backoff_grows_by_the_factor_and_stops_at_the_cap() -> None:
    config = QueueConfig(retry_delay_ms=200, retry_factor=2.0, retry_max_delay_ms=1000)
    assert [config.backoff(n) for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert config.backoff(0) == 0.2
    assert QueueConfig(retry_delay_ms=500, retry_factor=1.0).backoff(9) == 0.5
    defaults = QueueConfig()
    assert [defaults.backoff(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert defaults.backoff(100) == 60.0  # no overflow, just the cap


def test_queue_config_survives_a_reopen(store: Store, tmp_path: Path) -> None:
    changed = QueueConfig(
        max_concurrent=7,
        max_queue_size=42,
        max_retries=0,
        retry_delay_ms=250,
        retry_factor=3.5,
        retry_max_delay_ms=9000,
        retry_on_exit=True,
        paused=True,
    )
    changed.save(store)
    store.close()
    reopened = Store(tmp_path / "state.db", MIGRATIONS)
    try:
        assert QueueConfig.load(reopened) == changed
    finally:
        reopened.close()


# --- records: order, cap, counts ----------------------------------------------------------------------------------


def test_ready_is_highest_priority_first_then_first_come(store: Store, work: Path) -> None:
    records = ProcessRecords(store, EventBus())
    ids = [f"p{i}" for i in range(7)]
    for process_id, priority in zip(ids, [5, 9, 5, 1, 9, 10, 5], strict=True):
        records.insert(process_id, request(["true"], work, priority), None)
    assert records.ready(100) == ["p5", "p1", "p4", "p0", "p2", "p6", "p3"]
    assert records.ready(2) == ["p5", "p1"]
    assert [p["id"] for p in records.queued(100)] == ["p5", "p1", "p4", "p0", "p2", "p6", "p3"]


def test_an_entry_waiting_to_retry_is_not_ready_until_due(store: Store, work: Path) -> None:
    records = ProcessRecords(store, EventBus())
    records.insert("later", request(["true"], work, 10), None)
    records.insert("now", request(["true"], work, 1), None)
    records.update("later", next_attempt_at=time.time() + 30)
    assert records.ready(10) == ["now"]
    assert 25 < (records.next_due() or 0) <= 30
    assert [p["id"] for p in records.queued(10)] == ["now", "later"]  # ready ones first
    counts = records.counts()
    assert counts["queued"] == 2
    assert counts["waiting_retry"] == 1
    records.update("later", next_attempt_at=time.time() - 1)
    assert records.ready(10) == ["later", "now"]
    assert records.next_due() is None


def test_counts_are_each_process_once_and_never_negative(store: Store, work: Path) -> None:
    records = ProcessRecords(store, EventBus())
    for i, state in enumerate(["queued", "running", "stopped", "stopped", "failed", "cancelled", "interrupted"]):
        records.insert(f"p{i}", request(["true"], work), None)
        if state != "queued":
            records.update(f"p{i}", state=state)
    counts = records.counts()
    assert all(value >= 0 for value in counts.values())
    assert counts == {
        "queued": 1,
        "starting": 0,
        "running": 1,
        "stopping": 0,
        "stopped": 2,
        "failed": 1,
        "interrupted": 1,
        "cancelled": 1,
        "waiting_retry": 0,
    }
    assert records.active_count() == 1


def test_a_full_queue_refuses_without_writing_anything(store: Store, work: Path) -> None:
    records = ProcessRecords(store, EventBus())
    for i in range(3):
        records.insert(f"p{i}", request(["true"], work), 3)
    with pytest.raises(Conflict) as caught:
        records.insert("p3", request(["true"], work), 3)
    assert "3" in caught.value.message
    assert "max_queue_size" in caught.value.message
    assert store.db.execute("SELECT COUNT(*) FROM processes").fetchone()[0] == 3
    records.insert("now", request(["true"], work), None)  # an immediate process passes the cap…
    records.update("now", state="running")  # …and starts at once
    records.update("p0", state="stopped")  # a finished one makes room
    records.insert("p4", request(["true"], work), 3)
    assert store.db.execute("SELECT COUNT(*) FROM processes").fetchone()[0] == 5


def test_every_change_of_state_is_one_event(store: Store, work: Path) -> None:
    events = EventBus()
    subscription = events.subscribe(["process"])
    records = ProcessRecords(store, events)
    records.insert("p", request(["true"], work), None)
    records.update("p", state="starting")
    records.update("p", state="running", pid=123)
    seen = [subscription._queue.get_nowait() for _ in range(subscription._queue.qsize())]
    assert [(e["action"], e["state"], e["id"]) for e in seen] == [
        ("queued", "queued", "p"),
        ("state", "starting", "p"),
        ("state", "running", "p"),
    ]
    assert seen[-1]["process"]["pid"] == 123


# --- the manager on real processes ---------------------------------------------------------------------------------


async def test_an_immediate_process_runs_and_its_output_is_logged(
    manager: ProcessManager, tmp_path: Path, work: Path
) -> None:
    record = await manager.submit(request(["sh", "-c", "pwd; echo to-err >&2; exit 0"], work, immediate=True))
    done = await until_async(
        lambda: manager.records.get(record["id"])["state"] == "stopped", what="the process stopping"
    )
    assert done
    final = manager.records.get(record["id"])
    assert final["exit_code"] == 0
    assert final["attempts"] == 1
    text = (tmp_path / "logs" / f"{record['id']}.log").read_text()
    assert f" out {work}\n" in text
    assert " err to-err\n" in text
    assert " sys exited with code 0\n" in text


async def test_a_line_written_while_a_wait_looks_for_it_wakes_the_wait(
    manager: ProcessManager, tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wait matches its pattern in a thread; the line it waits for can land during that look. The wait must hear
    of it then, not at its timeout (it used to sleep the whole 30 s with the line already in the log)."""
    script = "while [ ! -e go ]; do sleep 0.01; done; echo ready; sleep 300"
    record = await manager.submit(request(["sh", "-c", script], work, immediate=True))
    log = tmp_path / "logs" / f"{record['id']}.log"
    look = manager.logs
    landed = False

    async def a_look_the_line_lands_during(process_id: str, query: Any) -> Any:
        nonlocal landed
        page = await look(process_id, query)
        if query.pattern is not None and not page.lines and not landed:
            (work / "go").touch()
            landed = await until_async(lambda: b" out ready\n" in log.read_bytes(), what="the line landing")
        return page

    monkeypatch.setattr(manager, "logs", a_look_the_line_lands_during)
    wait = manager.wait(record["id"], WaitFor(log=LinePattern("ready", "log"), timeout=120))
    waited = await asyncio.wait_for(wait, 20)
    assert landed
    assert (waited["wait"]["reason"], waited["wait"]["line"]["text"]) == ("log", "ready")


async def test_spawn_failures_are_retried_with_backoff_then_failed(store: Store, tmp_path: Path, work: Path) -> None:
    configure(store, max_retries=2, retry_delay_ms=100, retry_factor=3.0)
    manager = new_manager(store, tmp_path, work)
    await manager.open()
    try:
        # Submitted past check(), as if the program vanished between the request and its turn.
        record = await manager.submit(request([str(work / "vanished")], work))
        await until_async(lambda: manager.records.get(record["id"])["state"] == "failed", what="the last retry failing")
        final = manager.records.get(record["id"])
        assert final["attempts"] == 3
        assert "could not start" in final["error"]
        text = (tmp_path / "logs" / f"{record['id']}.log").read_text()
        assert text.count(" sys attempt ") == 3
        assert text.count(" sys could not start") == 3
    finally:
        await manager.close()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"command": ["sh", "-c", "true", "nul\x00byte"]}, id="nul-in-argument"),
        pytest.param({"env": {"VALUE": "nul\x00byte"}}, id="nul-in-environment"),
    ],
)
async def test_a_request_the_os_refuses_to_spawn_ends_failed_never_stuck_starting(
    manager: ProcessManager, work: Path, bad: dict[str, Any]
) -> None:
    spec = request(["sh", "-c", "true"], work, immediate=True)
    for key, value in bad.items():
        setattr(spec, key, value)
    record = await manager.submit(spec)
    await until_async(
        lambda: manager.records.get(record["id"])["state"] in ("failed", "queued"),
        timeout=3,
        what=f"the unspawnable process leaving 'starting' (it is {manager.records.get(record['id'])['state']!r})",
    )
    assert manager.records.active_count() == 0  # it holds no slot of the concurrency limit


async def test_closing_records_a_running_process_as_interrupted_and_ends_it(
    store: Store, tmp_path: Path, work: Path
) -> None:
    configure(store, max_retries=0)
    manager = new_manager(store, tmp_path, work)
    await manager.open()
    try:
        record = await manager.submit(request(["sleep", "300"], work, immediate=True))
        running = manager.records.get(record["id"])
        assert running["state"] == "running"
    finally:
        await manager.close()
    assert not psutil.pid_exists(running["pid"]) or psutil.Process(running["pid"]).status() == psutil.STATUS_ZOMBIE
    final = manager.records.get(record["id"])
    assert final["state"] == "interrupted"
    assert final["error"].startswith("interrupted")


@pytest.mark.parametrize(("policy", "state"), [("no", "interrupted"), ("on-failure", "queued"), ("always", "queued")])
async def test_closing_queues_a_running_process_again_only_when_its_policy_restarts_it(
    store: Store, tmp_path: Path, work: Path, policy: str, state: str
) -> None:
    configure(store, max_retries=3, paused=True)  # queue retries are for spawn failures, never for this
    manager = new_manager(store, tmp_path, work)
    await manager.open()
    try:
        record = await manager.submit(request(["sleep", "300"], work, immediate=True, restart=policy))
    finally:
        await manager.close()
    final = manager.records.get(record["id"])
    assert final["state"] == state
    assert final["attempts"] == 1
    assert final["pid"] is None


async def test_opening_after_a_crash_follows_each_policy_and_never_reruns_a_stop_in_flight(
    store: Store, tmp_path: Path, work: Path
) -> None:
    """Rows still active after a crash: interrupted (policy no), queued again (on-failure, always), stopped when a
    stop was in flight; queued rows that never started still wait."""
    configure(store, max_retries=2, paused=True)  # paused: nothing recovered starts during the test
    records = ProcessRecords(store, EventBus())
    finished = await asyncio.create_subprocess_exec("true")
    await finished.wait()  # a pid that is no longer running
    rows = [("plain", "no", "running", 0), ("flaky", "on-failure", "running", 0), ("server", "always", "starting", 0)]
    rows.append(("stopping", "always", "stopping", 1))
    for process_id, policy, state, stop in rows:
        records.insert(process_id, request(["true"], work, restart=policy), None)
        records.update(process_id, state=state, attempts=1, pid=finished.pid, pid_started=1.0, stop_requested=stop)
    records.insert("waiting", request(["true"], work), None)
    manager = new_manager(store, tmp_path, work)
    await manager.open()
    try:
        states = {p: manager.records.get(p)["state"] for p in ("plain", "flaky", "server", "stopping", "waiting")}
        assert states == {
            "plain": "interrupted",
            "flaky": "queued",
            "server": "queued",
            "stopping": "stopped",
            "waiting": "queued",
        }
        plain = manager.records.get("plain")
        assert plain["ended_at"] is not None
        assert plain["error"].startswith("interrupted by the instance's crash")
        assert manager.records.get("server")["interrupted"].startswith("interrupted by the instance's crash")
        assert manager.records.get("waiting")["interrupted"] is None
        assert [p["id"] for p in manager.records.queued(10)] == ["flaky", "server", "waiting"]
        assert "interrupted by the instance's crash" in (tmp_path / "logs" / "plain.log").read_text()
    finally:
        await manager.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
async def test_a_program_that_cannot_be_executed_fails_with_the_reason(
    store: Store, tmp_path: Path, work: Path
) -> None:
    configure(store, max_retries=0)
    script = executable(work / "script.sh")
    manager = new_manager(store, tmp_path, work)
    await manager.open()
    try:
        script.chmod(stat.S_IRUSR)  # executable when checked, not when its turn comes
        record = await manager.submit(request([str(script)], work, immediate=True))
        final = await until_async(
            lambda: (r := manager.records.get(record["id"]))["state"] == "failed" and r, what="the spawn failing"
        )
        assert "could not start" in final["error"]
        assert manager.records.active_count() == 0
    finally:
        await manager.close()
