"""Nothing orphaned, nothing lost, nothing run twice — with real `murmuration serve` processes.

kill -9 of a server ends its processes and their grandchildren within two seconds (the reaper watchdog);
SIGTERM ends them too; a restart keeps queued work queued under the same ids and records what was running as
interrupted (or queues it again while it has retries); survivors recorded in state.db are ended on the next start
only when pid *and* start time match, so a reused pid is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.core.events import EventBus
from murmuration.core.process_records import ProcessRecords, StartRequest
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store
from murmuration.datafolder import DataFolder
from tests.conftest import ServeProcess, Servers
from tests.waiting import until_async

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the 2 s guarantee is Linux's")

FINAL = ("stopped", "failed", "interrupted", "cancelled")
SHELL_WITH_GRANDCHILDREN = ["sh", "-c", "sleep 300 & sleep 301; wait"]
IGNORING_TERM = ["sh", "-c", "trap '' TERM; sleep 300 & sleep 301; wait"]


def gone(pid: int) -> bool:
    """Ended (a zombie not yet reaped by whoever inherited it has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


async def connect(data: Path) -> InstanceClient:
    return await InstanceClient.for_folder(DataFolder(data))


async def family(pid: int, size: int, timeout: float = 10) -> list[int]:
    """`pid` and its descendants, once there are `size` processes in all."""

    def members() -> list[int]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
        return []

    return await until_async(
        members, f"process {pid} to start its children", timeout=timeout, every=0.02, done=lambda m: len(m) >= size
    )


def watchdog_of(server: ServeProcess) -> list[int]:
    """The reaper watchdog(s) the server started."""
    found = []
    for child in psutil.Process(server.proc.pid).children():
        with contextlib.suppress(psutil.Error):
            if "_reap" in child.cmdline():
                found.append(child.pid)
    return found


async def until_gone(pids: list[int], deadline: float, what: str) -> None:
    def alive() -> list[int]:
        return [pid for pid in pids if not gone(pid)]

    await until_async(alive, what, timeout=max(0.0, deadline - time.monotonic()), every=0.01, done=lambda a: not a)


async def settle_all(client: InstanceClient, ids: list[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
    async def records() -> dict[str, dict[str, Any]]:
        return {i: await client.call("get_process_status", {"process_id": i}) for i in ids}

    return await until_async(
        records,
        "every process to reach a final state",
        timeout=timeout,
        done=lambda found: all(r["state"] in FINAL for r in found.values()),
    )


# --- the server dies: its processes die with it --------------------------------------------------------------


@pytest.mark.parametrize("command", [SHELL_WITH_GRANDCHILDREN, IGNORING_TERM], ids=["plain", "ignoring-term"])
async def test_kill_9_of_the_server_ends_its_processes_and_grandchildren_within_2_s(
    servers: Servers, tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "data"
    server = servers.start("--data-dir", str(data))
    async with await connect(data) as client:
        process = await client.call("start_process", {"command": command, "immediate": True})
        pids = await family(process["pid"], 3)  # the shell and both sleeps
    watchdogs = watchdog_of(server)
    assert len(watchdogs) == 1
    try:
        server.proc.kill()
        killed = time.monotonic()
        server.proc.wait(timeout=10)
        await until_gone(pids, killed + 2.0, "processes of a server killed with SIGKILL, 2 s later")
        await until_gone(watchdogs, killed + 5.0, "the watchdog after its work")
    finally:
        kill_leftovers(pids + watchdogs)


async def test_sigterm_of_the_server_ends_its_processes_and_history_outlives_it(
    servers: Servers, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = servers.start("--data-dir", str(data))
    async with await connect(data) as client:
        await client.call("set_queue_config", {"max_retries": 0})
        past = await client.call("start_process", {"command": ["echo", "from the past"], "immediate": True})
        await settle_all(client, [past["id"]])
        process = await client.call("start_process", {"command": SHELL_WITH_GRANDCHILDREN, "immediate": True})
        pids = await family(process["pid"], 3)
    watchdogs = watchdog_of(server)
    try:
        server.signal(signal.SIGTERM)
        assert server.finish(timeout=30) == 0, server.stderr.decode()
        await until_gone(pids + watchdogs, time.monotonic() + 2.0, "processes of a server stopped with SIGTERM")
    finally:
        kill_leftovers(pids + watchdogs)
    db = sqlite3.connect(DataFolder(data).state_db)
    try:
        state, error, ended = db.execute(
            "SELECT state, error, ended_at FROM processes WHERE id = ?", (process["id"],)
        ).fetchone()
    finally:
        db.close()
    assert state == "interrupted"
    assert error.startswith("interrupted")
    assert ended is not None
    # The next start shows the past runs, with their output.
    servers.start("--data-dir", str(data))
    async with await connect(data) as client:
        listed = await client.call("list_processes")
        assert [(p["id"], p["state"]) for p in listed["processes"]] == [
            (process["id"], "interrupted"),
            (past["id"], "stopped"),
        ]
        output = await client.call("get_process_logs", {"process_id": past["id"], "log_type": "stdout"})
        assert [line["text"] for line in output["lines"]] == ["from the past"]


# --- restart with a busy queue ----------------------------------------------------------------------------------

# Each run appends "start N" to MARKS, waits for the GO file, then appends "done N".
GATED = [
    "sh",
    "-c",
    'echo "start $N" >> "$MARKS"; while [ ! -e "$GO" ]; do sleep 0.05; done; echo "done $N" >> "$MARKS"',
]


@pytest.mark.parametrize("policy", ["no", "on-failure"])
async def test_restart_with_a_busy_queue_loses_nothing_and_runs_nothing_twice(
    servers: Servers, tmp_path: Path, policy: str
) -> None:
    """After kill -9, what ran is interrupted; only a restart policy starts it again (queue retries never do)."""
    retries = policy != "no"
    data, marks, go = tmp_path / "data", tmp_path / "marks", tmp_path / "go"
    first = servers.start("--data-dir", str(data))
    pids: list[int] = []
    try:
        async with await connect(data) as client:
            await client.call("set_queue_config", {"max_concurrent": 2, "max_retries": 3})
            ids = []
            for n in range(6):
                env = {"N": str(n), "MARKS": str(marks), "GO": str(go)}
                params = {"command": GATED, "env_vars": env, "restart": policy}
                ids.append((await client.call("start_process", params))["id"])
            await until_async(
                lambda: marks.exists() and len(marks.read_text().splitlines()) == 2,
                "two processes to start",
                timeout=15,
                every=0.02,
            )
            await client.call("pause_queue")
            before = {i: await client.call("get_process_status", {"process_id": i}) for i in ids}
        running = [i for i in ids if before[i]["state"] == "running"]
        waiting = [i for i in ids if before[i]["state"] == "queued"]
        assert (len(running), len(waiting)) == (2, 4)
        pids = [before[i]["pid"] for i in running]

        first.proc.kill()
        first.proc.wait(timeout=10)
        await until_gone(pids, time.monotonic() + 2.0, "running processes after kill -9")

        servers.start("--data-dir", str(data))
        async with await connect(data) as client:
            queue = await client.call("get_queue_status")
            assert queue["paused"] is True  # the pause outlived the crash too
            after = {i: await client.call("get_process_status", {"process_id": i}) for i in ids}
            for i in running:
                assert after[i]["interrupted"].startswith("interrupted by the instance's crash"), after[i]
                assert after[i]["attempts"] == 1
            if retries:
                assert {i: after[i]["state"] for i in running} == dict.fromkeys(running, "queued")
                assert [e["id"] for e in queue["entries"]] == sorted(running + waiting, key=ids.index)
            else:
                assert {i: after[i]["state"] for i in running} == dict.fromkeys(running, "interrupted")
                assert [e["id"] for e in queue["entries"]] == waiting  # the same ids, in the same order
            assert (await client.call("list_processes"))["total"] == 6  # nothing re-created under a new id

            go.touch()
            await client.call("resume_queue")
            final = await settle_all(client, ids)
    finally:
        kill_leftovers(pids)
    numbers = {i: str(n) for n, i in enumerate(ids)}
    lines = Counter(marks.read_text().splitlines())
    for i in waiting:
        assert (lines[f"start {numbers[i]}"], lines[f"done {numbers[i]}"]) == (1, 1), i
        assert final[i]["state"] == "stopped"
    for i in running:
        if retries:
            assert (lines[f"start {numbers[i]}"], lines[f"done {numbers[i]}"]) == (2, 1), i
            assert (final[i]["state"], final[i]["attempts"]) == ("stopped", 2)
        else:
            assert (lines[f"start {numbers[i]}"], lines[f"done {numbers[i]}"]) == (1, 0), i
            assert final[i]["state"] == "interrupted"
    assert max(count for line, count in lines.items() if line.startswith("done")) == 1


# --- survivors in state.db: pid and start time, or hands off ------------------------------------------------------


def record_running(data: Path, rows: list[tuple[str, int, float]]) -> None:
    """Write rows as a crashed server would have left them: 'running', with a pid and its start time."""
    folder = registry.open_data_dir(data)
    store = Store(folder.state_db, MIGRATIONS)
    try:
        records = ProcessRecords(store, EventBus())
        for process_id, pid, started in rows:
            request = StartRequest(command=["true"], title=process_id, name=process_id, cwd=str(data), env={})
            records.insert(process_id, request, None)
            # Restart policy "no" (the default): recorded interrupted, not run again.
            records.update(process_id, state="running", pid=pid, pid_started=started, attempts=9)
    finally:
        store.close()


def sleeper() -> subprocess.Popen[bytes]:
    """A process of ours in its own group, as a managed process would be."""
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


async def test_a_survivor_is_ended_but_a_reused_pid_is_never_touched(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    survivor = sleeper()
    stranger = sleeper()  # a group leader too: a killpg by pid would reach it
    try:
        real_start = psutil.Process(survivor.pid).create_time()
        stranger_start = psutil.Process(stranger.pid).create_time()
        record_running(
            data,
            [
                ("survivor", survivor.pid, real_start),
                ("reused-pid", stranger.pid, stranger_start - 1000.0),  # the recorded process was another one
            ],
        )
        servers.start("--data-dir", str(data))
        # Survivors are ended before the server says it is ready.
        assert survivor.wait(timeout=2) == -signal.SIGTERM
        assert stranger.poll() is None
        async with await connect(data) as client:
            for process_id in ("survivor", "reused-pid"):
                record = await client.call("get_process_status", {"process_id": process_id})
                assert record["state"] == "interrupted", record
        assert stranger.poll() is None
        assert psutil.Process(stranger.pid).status() != psutil.STATUS_ZOMBIE
    finally:
        for proc in (survivor, stranger):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- restart policies after a crash -------------------------------------------------------------------------------


async def test_after_kill_9_always_brings_a_process_back_and_no_leaves_it_interrupted(
    servers: Servers, tmp_path: Path
) -> None:
    data, marks = tmp_path / "data", tmp_path / "marks"
    server = servers.start("--data-dir", str(data))
    pids: list[int] = []
    try:
        async with await connect(data) as client:
            ids = {}
            for policy in ("no", "always"):
                command = f"echo {policy} >> {marks}; echo run of {policy}; exec sleep 300"
                params = {"command": command, "restart": policy, "immediate": True, "wait_for": {"log": "run of"}}
                ids[policy] = (await client.call("start_process", params))["id"]
            pids = [(await client.call("get_process_status", {"process_id": i}))["pid"] for i in ids.values()]
        server.proc.kill()
        server.proc.wait(timeout=10)
        await until_gone(pids, time.monotonic() + 2.0, "processes after kill -9")

        servers.start("--data-dir", str(data))
        async with await connect(data) as client:
            back = await client.call(
                "wait_for_process", {"process_id": ids["always"], "log": "run of always", "timeout": 20}
            )
            assert back["wait"]["ready"] is True
            assert back["state"] == "running"
            assert back["attempts"] == 2
            assert back["interrupted"].startswith("interrupted by the instance's crash")
            pids.append(back["pid"])
            page = await client.call("get_process_logs", {"process_id": ids["always"]})
            texts = [line["text"] for line in page["lines"]]
            crashes = [i for i, text in enumerate(texts) if text.startswith("interrupted by the instance's crash")]
            assert len(crashes) == 1, texts
            crash = crashes[0]
            assert texts.index("run of always") < crash < len(texts) - 1 - texts[::-1].index("run of always")
            left = await client.call("get_process_status", {"process_id": ids["no"]})
            assert left["state"] == "interrupted"
            assert left["error"].startswith("interrupted by the instance's crash")
            await client.call("stop_process", {"process_id": ids["always"]})
    finally:
        kill_leftovers(pids)
    assert Counter(marks.read_text().split()) == {"no": 1, "always": 2}


async def test_kill_9_ends_thirteen_groups_that_ignore_term_within_2_s(servers: Servers, tmp_path: Path) -> None:
    """The watchdog ends the groups in parallel: one grace period for all, not one each."""
    data = tmp_path / "data"
    server = servers.start("--data-dir", str(data))
    pids: list[int] = []
    async with await connect(data) as client:
        await client.call("set_queue_config", {"max_concurrent": 20})
        for _ in range(13):
            process = await client.call("start_process", {"command": IGNORING_TERM, "immediate": True})
            pids += await family(process["pid"], 3)
    try:
        server.proc.kill()
        killed = time.monotonic()
        server.proc.wait(timeout=10)
        await until_gone(pids, killed + 2.0, "13 groups ignoring TERM, 2 s after kill -9")
    finally:
        kill_leftovers(pids)
