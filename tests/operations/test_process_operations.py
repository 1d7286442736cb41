"""Process and queue operations through the real WebSocket API, on real processes.

One test per fault of the original Murmuration (docs/ARCHITECTURE.md, "The original's faults", 1–5) is named
after it and fails on the original's behaviour.
Waiting is on events or polled conditions with deadlines; what must *not* happen is watched for a short window
after the scheduler has demonstrably had its chance.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from murmuration import registry
from murmuration.client import InstanceClient, RpcError
from murmuration.contract import CONFLICT, INVALID_PARAMS, NOT_FOUND
from murmuration.core.process_log import MAX_LINE
from murmuration.core.processes import BATCH_LINES
from murmuration.server.lifecycle import RunningInstance
from tests.waiting import until_async

FINAL = ("stopped", "failed", "interrupted", "cancelled")
ACTIVE = ("starting", "running", "stopping")
LOG_LINE = re.compile(rb"^\d+ (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (out|err|sys) (.*)$", re.DOTALL)

IGNORE_TERM = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)\n"
)


def py(code: str) -> list[str]:
    """Python running `code`, as one line (exec of its repr): a newline in an argument is tested on its own."""
    return [sys.executable, "-c", f"exec({code!r})" if "\n" in code else code]


def flood(lines: int) -> list[str]:
    return py(f"import sys\nw = sys.stdout.write\nfor i in range({lines}):\n    w(f'{{i}}\\n')\n")


def real(path: str | Path) -> str:
    return os.path.realpath(path)


def log_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.log"))


async def outcome(client: InstanceClient, method: str, params: dict[str, Any]) -> Any:
    """The result of a call, or the RpcError it raised."""
    try:
        return await client.call(method, params)
    except RpcError as exc:
        return exc


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Watcher:
    """Every event a client receives, in order; tests wait on conditions over them."""

    def __init__(self, client: InstanceClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, topics: list[str]) -> None:
        await self.client.subscribe(topics)
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        while True:
            self.events.append(await self.client.next_event())
            self._changed.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def until(self, condition: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
        """Wait for `condition` over the events, asked again as each event arrives."""
        return await until_async(
            condition,
            what,
            timeout=timeout,
            every=1.0,
            wake=self._changed,
            detail=lambda: f"last events: {self.events[-5:]}",
        )

    def process_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("topic") == "process"]

    def states(self, process_id: str) -> list[str]:
        return [e["state"] for e in self.process_events() if e["id"] == process_id]

    def state(self, process_id: str) -> str | None:
        states = self.states(process_id)
        return states[-1] if states else None

    def all_final(self, ids: list[str]) -> bool:
        return all(self.state(i) in FINAL for i in ids)

    def started_order(self, ids: list[str]) -> list[str]:
        return [e["id"] for e in self.process_events() if e["state"] == "starting" and e["id"] in ids]

    def peak_active(self, ids: list[str]) -> int:
        """The most of `ids` that were starting, running or stopping at once, replaying every change of state."""
        active: set[str] = set()
        peak = 0
        for event in self.process_events():
            if event["id"] not in ids:
                continue
            if event["state"] in ACTIVE:
                active.add(event["id"])
            else:
                active.discard(event["id"])
            peak = max(peak, len(active))
        return peak

    def output(self, process_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("topic") == "process_output" and e["id"] == process_id]

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """The events that arrive within `seconds` (for what must NOT happen)."""
        seen = len(self.events)
        await asyncio.sleep(seconds)
        return self.events[seen:]


@pytest.fixture
async def watch(client: InstanceClient) -> AsyncIterator[Watcher]:
    watcher = Watcher(client)
    await watcher.start(["process", "process_output", "queue"])
    try:
        yield watcher
    finally:
        await watcher.close()


async def start(client: InstanceClient, command: list[str], **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("start_process", {"command": command, **params})
    return result


async def status(client: InstanceClient, process_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("get_process_status", {"process_id": process_id})
    return result


async def settle(client: InstanceClient, process_id: str, states: tuple[str, ...] = FINAL, timeout: float = 20) -> Any:
    """The process's record once its state is one of `states` (polled, with a deadline)."""
    return await until_async(
        lambda: status(client, process_id),
        f"{process_id} to reach one of {states}",
        timeout=timeout,
        every=0.02,
        done=lambda record: record["state"] in states,
    )


async def logs(client: InstanceClient, process_id: str, **params: Any) -> list[dict[str, str]]:
    result = await client.call("get_process_logs", {"process_id": process_id, **params})
    lines: list[dict[str, str]] = result["lines"]
    return lines


async def texts(client: InstanceClient, process_id: str, **params: Any) -> list[str]:
    return [line["text"] for line in await logs(client, process_id, **params)]


def log_path(instance: RunningInstance, process_id: str) -> Path:
    return Path(instance.ctx.processes.log_folder, f"{process_id}.log")


def log_entries(path: Path) -> list[tuple[str, bytes, bytes]]:
    """(timestamp, tag, text) of every line of a process's log file, checking each line's shape."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    entries = []
    for line in raw[:-1].split(b"\n"):
        match = LOG_LINE.match(line)
        assert match is not None, line[:200]
        entries.append((match.group(1).decode(), match.group(2), match.group(3)))
    return entries


async def set_config(client: InstanceClient, **config: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("set_queue_config", config)
    return result


# --- starting ------------------------------------------------------------------------------------------------


async def test_command_runs_in_the_instance_working_directory_by_default(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process = await start(client, py("import os; print(os.getcwd())"), immediate=True)
    assert process["cwd"] == instance.ctx.info.cwd
    assert process["command"][0] == sys.executable
    await settle(client, process["id"])
    assert await texts(client, process["id"], log_type="stdout") == [real(instance.ctx.info.cwd)]


async def test_a_given_cwd_is_used(client: InstanceClient, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    process = await start(client, py("import os; print(os.getcwd())"), cwd=str(folder))
    assert (await settle(client, process["id"]))["state"] == "stopped"
    assert await texts(client, process["id"], log_type="stdout") == [real(folder)]


async def test_script_name_and_args_as_the_original_gave_them(client: InstanceClient) -> None:
    args = ["-c", "import sys; print(sys.argv[1:])", "two words", "$HOME", "*", ""]
    process = await client.call("start_process", {"script_name": sys.executable, "args": args, "title": "Argv"})
    assert process["command"] == [sys.executable, *args]
    assert process["title"] == "Argv"
    assert process["name"] == sys.executable  # the name defaults to script_name, as in the original
    assert (await settle(client, process["id"]))["state"] == "stopped"
    assert await texts(client, process["id"], log_type="stdout") == [str(["two words", "$HOME", "*", ""])]


async def test_env_vars_reach_the_child_on_top_of_the_environment(client: InstanceClient) -> None:
    code = "import os; print(repr(os.environ['MURM_GREETING']), repr(os.environ['MURM_EMPTY']), 'PATH' in os.environ)"
    process = await start(client, py(code), env_vars={"MURM_GREETING": "hello world", "MURM_EMPTY": ""})
    assert (await settle(client, process["id"]))["state"] == "stopped"
    assert await texts(client, process["id"], log_type="stdout") == ["'hello world' '' True"]
    described = await status(client, process["id"])
    assert described["env_vars"] == ["MURM_EMPTY", "MURM_GREETING"]  # names only: values may be secrets
    assert "hello world" not in str(described)


async def test_states_queued_starting_running_stopped_are_events(client: InstanceClient, watch: Watcher) -> None:
    process = await start(client, ["true"])
    assert process["state"] == "queued"
    await watch.until(lambda: watch.state(process["id"]) in FINAL, what="the process ending")
    assert watch.states(process["id"]) == ["queued", "starting", "running", "stopped"]
    running = next(e for e in watch.process_events() if e["id"] == process["id"] and e["state"] == "running")
    assert running["process"]["pid"] > 0
    assert running["process"]["started_at"] is not None
    final = await status(client, process["id"])
    assert (final["exit_code"], final["signal"], final["attempts"]) == (0, None, 1)
    assert final["ended_at"] is not None


@pytest.mark.parametrize(
    ("command", "state", "exit_code", "signal"),
    [
        (["true"], "stopped", 0, None),
        (["sh", "-c", "exit 3"], "failed", 3, None),
        (py("import os, signal; os.kill(os.getpid(), signal.SIGUSR1)"), "failed", None, 10),
    ],
)
async def test_exit_code_and_signal_are_recorded(
    client: InstanceClient, command: list[str], state: str, exit_code: int | None, signal: int | None
) -> None:
    process = await start(client, command, immediate=True)
    final = await settle(client, process["id"])
    assert (final["state"], final["exit_code"], final["signal"]) == (state, exit_code, signal)
    system = await texts(client, process["id"], log_type="system")
    assert system[-1] == (f"exited with code {exit_code}" if signal is None else f"ended by signal {signal}")


async def test_every_result_carries_a_web_url(instance: RunningInstance, client: InstanceClient) -> None:
    base = instance.url
    await client.call("pause_queue")
    queued = await start(client, ["true"])
    running = await start(client, ["sleep", "30"], immediate=True)
    link = f"{base}#/processes/{queued['id']}"
    assert queued["web_url"] == link
    assert (await status(client, queued["id"]))["web_url"] == link
    not_yet = await client.call("get_process_logs", {"process_id": queued["id"]})
    assert (not_yet["web_url"], not_yet["lines"]) == (link, [])
    listed = await client.call("list_processes")
    assert listed["web_url"] == f"{base}#/processes"
    assert {p["web_url"] for p in listed["processes"]} == {link, f"{base}#/processes/{running['id']}"}
    queue = await client.call("get_queue_status")
    assert queue["web_url"] == f"{base}#/queue"
    assert [e["web_url"] for e in queue["entries"]] == [link]
    for method in ("pause_queue", "set_queue_config"):
        assert (await client.call(method))["web_url"] == f"{base}#/queue"
    assert (await client.call("cancel_queued_process", {"queue_id": queued["id"]}))["web_url"] == link
    stopped = await client.call("stop_process", {"process_id": running["id"]})
    assert stopped["web_url"] == f"{base}#/processes/{running['id']}"
    assert (await client.call("resume_queue"))["web_url"] == f"{base}#/queue"


# --- the original's faults, one test each (faults 1–5) ---------------------------------------------------------


async def test_fault_1_concurrency_limit_counts_running_processes_not_spawns(
    client: InstanceClient, watch: Watcher
) -> None:
    await set_config(client, max_concurrent=2)
    ids = [(await start(client, ["sleep", "0.4"]))["id"] for _ in range(5)]
    peak_polled = 0

    async def all_ended() -> bool:  # poll the queue's own count too, as the dashboard would
        nonlocal peak_polled
        queue = await client.call("get_queue_status", {"include_entries": False})
        peak_polled = max(peak_polled, queue["running"])
        return watch.all_final(ids)

    await until_async(all_ended, "five short sleeps to end", timeout=30, every=0.02)
    assert [watch.state(i) for i in ids] == ["stopped"] * 5
    assert watch.peak_active(ids) == 2  # never more than the limit running, and the limit was used
    assert peak_polled <= 2
    # The rest started only as others ended: the k-th start follows at least k - 1 ends (two ends may both come
    # before the queue's next start when the machine is busy, so "exactly" would be a race, not the rule).
    order = [(e["id"], e["state"]) for e in watch.process_events() if e["id"] in ids and e["state"] != "queued"]
    ends_before = [sum(1 for _, s in order[:k] if s in FINAL) for k, (_, s) in enumerate(order) if s == "starting"]
    assert len(ends_before) == 5
    assert all(ends >= k - 1 for k, ends in enumerate(ends_before)), ends_before


async def test_fault_1_immediate_processes_count_against_the_limit_for_queued_work(
    client: InstanceClient, watch: Watcher
) -> None:
    await set_config(client, max_concurrent=1)
    now = await start(client, ["sleep", "0.5"], immediate=True)
    waiting = [(await start(client, ["true"]))["id"] for _ in range(2)]
    ids = [now["id"], *waiting]
    await watch.until(lambda: watch.all_final(ids), what="all three ending")
    assert watch.peak_active(ids) == 1


async def test_fault_2_a_paused_queue_starts_nothing_not_even_new_work(client: InstanceClient, watch: Watcher) -> None:
    await set_config(client, max_concurrent=1)
    blocker = await start(client, ["sleep", "30"])
    await watch.until(lambda: watch.state(blocker["id"]) == "running", what="the first process running")
    waiting = await start(client, ["true"])
    paused = await client.call("pause_queue")
    assert paused["paused"] is True
    assert paused["pending"] == 1
    new = await start(client, ["true"])  # the original started new work at once, paused or not
    await client.call("stop_process", {"process_id": blocker["id"]})  # frees the only slot
    await watch.until(lambda: watch.state(blocker["id"]) == "stopped", what="the first process stopping")
    later = await watch.quiet(0.5)
    assert [e for e in later if e.get("topic") == "process" and e["id"] in (waiting["id"], new["id"])] == []
    queue = await client.call("get_queue_status")
    assert (queue["paused"], queue["pending"], queue["running"]) == (True, 2, 0)
    assert [e["id"] for e in queue["entries"]] == [waiting["id"], new["id"]]
    resumed = await client.call("resume_queue")
    assert resumed["paused"] is False
    ids = [waiting["id"], new["id"]]
    await watch.until(lambda: watch.all_final(ids), what="the queued processes running after resume")
    assert watch.started_order(ids) == ids
    assert [watch.state(i) for i in ids] == ["stopped", "stopped"]


async def test_fault_3_retries_wait_with_exponential_backoff(client: InstanceClient, watch: Watcher) -> None:
    config = await set_config(
        client, retry_on_exit=True, retry_delay_ms=200, retry_factor=2, max_retries=3, retry_max_delay_ms=60_000
    )
    assert config["config"]["retry_delay_ms"] == 200
    process = await start(client, ["false"])
    await watch.until(lambda: watch.state(process["id"]) in FINAL, timeout=30, what="the last retry failing")
    final = await status(client, process["id"])
    assert final["state"] == "failed"
    assert final["attempts"] == 4  # the first run and three retries, no more
    system = await logs(client, process["id"], log_type="system")
    starts = [when(line["time"]) for line in system if line["text"].startswith("attempt ")]
    exits = [when(line["time"]) for line in system if line["text"] == "exited with code 1"]
    assert (len(starts), len(exits)) == (4, 4), system
    # Each failure is queued again with a not-before time: 0.2 s, then 0.4 s, then 0.8 s after it.
    due = [
        when(e["process"]["next_attempt_at"])
        for e in watch.process_events()
        if e["id"] == process["id"] and e["state"] == "queued" and e["process"]["attempts"] > 0
    ]
    assert len(due) == 3
    scheduled = [at - ended for at, ended in zip(due, exits, strict=False)]
    for delay, wanted in zip(scheduled, [0.2, 0.4, 0.8], strict=True):
        assert abs(delay - wanted) < 0.08, scheduled
    # …and no retry starts before its time.
    waited = [began - ended for ended, began in zip(exits, starts[1:], strict=False)]
    for wait, delay in zip(waited, scheduled, strict=True):
        assert wait >= delay - 0.005, (waited, scheduled)


async def test_fault_3_a_retry_waiting_its_turn_is_shown_and_counted(client: InstanceClient) -> None:
    await set_config(client, retry_on_exit=True, retry_delay_ms=5000, max_retries=1)
    process = await start(client, ["false"])
    record = await until_async(
        lambda: status(client, process["id"]),
        "the failed process to be queued for its retry",
        timeout=15,
        every=0.02,
        done=lambda r: r["attempts"] == 1 and r["state"] == "queued",
    )
    assert record["next_attempt_at"] is not None
    assert 3.5 < when(record["next_attempt_at"]) - time.time() <= 5.0
    queue = await client.call("get_queue_status")
    assert (queue["pending"], queue["waiting_retry"]) == (1, 1)
    await client.call("cancel_queued_process", {"queue_id": process["id"]})


async def test_fault_4_pending_count_is_never_negative(client: InstanceClient, watch: Watcher) -> None:
    ids = [(await start(client, ["true"]))["id"] for _ in range(4)]
    failing = await start(client, ["false"])
    await watch.until(lambda: watch.all_final([*ids, failing["id"]]), what="five processes ending")
    await client.call("pause_queue")
    queued = [(await start(client, ["true"]))["id"] for _ in range(2)]
    for method in ("get_queue_status", "pause_queue", "list_processes"):
        result = await client.call(method)
        summary = result.get("queue", result)
        assert summary["pending"] == 2, method
        assert summary["running"] == 0, method
    queue = await client.call("get_queue_status")
    assert all(count >= 0 for count in queue["counts"].values()), queue["counts"]
    assert queue["counts"]["stopped"] == 4
    assert queue["counts"]["failed"] == 1
    assert queue["pending"] == len(queue["entries"]) == queue["counts"]["queued"]
    assert [e["id"] for e in queue["entries"]] == queued
    await client.call("cancel_queued_process", {"queue_id": queued[0]})
    queue = await client.call("get_queue_status")
    assert (queue["pending"], queue["counts"]["cancelled"]) == (1, 1)


async def test_fault_5_a_process_stopped_by_the_user_is_stopped_not_failed(
    client: InstanceClient, watch: Watcher
) -> None:
    process = await start(client, ["sleep", "30"], immediate=True)
    assert process["state"] == "running"
    stopped = await client.call("stop_process", {"process_id": process["id"]})
    assert (stopped["state"], stopped["signal"], stopped["exit_code"], stopped["error"]) == ("stopped", 15, None, None)
    await watch.until(lambda: watch.state(process["id"]) == "stopped", what="the stopped event")
    assert "failed" not in watch.states(process["id"])
    assert watch.states(process["id"])[-2:] == ["stopping", "stopped"]
    listed = await client.call("list_processes", {"status": "failed"})
    assert listed["total"] == 0


# --- steering the queue -----------------------------------------------------------------------------------------


async def test_set_queue_config_applies_at_once(
    instance: RunningInstance, client: InstanceClient, watch: Watcher
) -> None:
    await set_config(client, max_concurrent=1)
    ids = [(await start(client, ["sleep", "30"]))["id"] for _ in range(3)]
    await watch.until(lambda: watch.state(ids[0]) == "running", what="the first process running")
    assert [watch.state(i) for i in ids[1:]] == ["queued", "queued"]
    changed = await set_config(client, max_concurrent=3)
    assert changed["config"]["max_concurrent"] == 3
    # The waiting ones start now, while the first still runs: no process had to end for the change to apply.
    await watch.until(lambda: all(watch.state(i) == "running" for i in ids), timeout=5, what="all three running")
    assert instance.ctx.processes.config.max_concurrent == 3
    lowered = await set_config(client, max_concurrent=1)
    assert lowered["running"] == 3  # lowering the limit stops nothing that runs
    assert (await client.call("get_queue_status"))["config"]["max_concurrent"] == 1


async def test_highest_priority_first_then_first_come(client: InstanceClient, watch: Watcher) -> None:
    await client.call("pause_queue")
    await set_config(client, max_concurrent=1)
    priorities = {"a": 5, "b": 1, "c": 9, "d": 5, "e": 9, "f": 10, "g": 1, "h": 5}
    by_name = {name: (await start(client, ["true"], name=name, priority=p))["id"] for name, p in priorities.items()}
    expected = ["f", "c", "e", "a", "d", "h", "b", "g"]
    queue = await client.call("get_queue_status")
    assert [e["name"] for e in queue["entries"]] == expected
    await client.call("resume_queue")
    ids = list(by_name.values())
    await watch.until(lambda: watch.all_final(ids), what="every queued process running")
    name_of = {v: k for k, v in by_name.items()}
    assert [name_of[i] for i in watch.started_order(ids)] == expected
    assert watch.peak_active(ids) == 1


async def test_cancel_queued_process(client: InstanceClient, watch: Watcher) -> None:
    await client.call("pause_queue")
    process = await start(client, ["true"])
    cancelled = await client.call("cancel_queued_process", {"queue_id": process["id"]})
    assert cancelled["state"] == "cancelled"
    assert cancelled["ended_at"] is not None
    with pytest.raises(RpcError) as again:
        await client.call("cancel_queued_process", {"queue_id": process["id"]})
    assert (again.value.code, again.value.data["field"]) == (CONFLICT, "queue_id")
    assert "cancelled" in again.value.message
    with pytest.raises(RpcError) as unknown:
        await client.call("cancel_queued_process", {"queue_id": "no-such-id"})
    assert (unknown.value.code, unknown.value.data["field"]) == (NOT_FOUND, "queue_id")
    running = await start(client, ["sleep", "30"], immediate=True)
    with pytest.raises(RpcError) as busy:
        await client.call("cancel_queued_process", {"queue_id": running["id"]})
    assert busy.value.code == CONFLICT
    assert "stop_process" in busy.value.message
    # A cancelled entry never runs, even once the queue moves again.
    marker = await start(client, ["true"])
    await client.call("resume_queue")
    await watch.until(lambda: watch.state(marker["id"]) == "stopped", what="a later entry running")
    assert watch.states(process["id"]) == ["queued", "cancelled"]


async def test_stopping_a_queued_process_cancels_it(client: InstanceClient) -> None:
    await client.call("pause_queue")
    process = await start(client, ["true"])
    stopped = await client.call("stop_process", {"process_id": process["id"]})
    assert stopped["state"] == "cancelled"
    assert (await client.call("get_queue_status"))["pending"] == 0


async def test_stop_with_force_kills_at_once(client: InstanceClient) -> None:
    process = await start(client, py(IGNORE_TERM), immediate=True)
    await until_text(client, process["id"], "ready")
    began = time.monotonic()
    stopped = await client.call("stop_process", {"process_id": process["id"], "force": True, "timeout": 60_000})
    assert time.monotonic() - began < 5
    assert (stopped["state"], stopped["signal"]) == ("stopped", 9)


async def test_stop_kills_a_process_that_ignores_term_after_the_timeout(client: InstanceClient) -> None:
    process = await start(client, py(IGNORE_TERM), immediate=True)
    await until_text(client, process["id"], "ready")
    began = time.monotonic()
    stopped = await client.call("stop_process", {"process_id": process["id"], "timeout": 300})
    took = time.monotonic() - began
    assert 0.3 <= took < 5
    assert (stopped["state"], stopped["signal"], stopped["exit_code"]) == ("stopped", 9, None)
    system = await texts(client, process["id"], log_type="system")
    assert any("killing" in line for line in system), system


async def test_stopping_a_finished_process_changes_nothing(client: InstanceClient) -> None:
    process = await start(client, ["true"], immediate=True)
    before = await settle(client, process["id"])
    after = await client.call("stop_process", {"process_id": process["id"]})
    assert (after["state"], after["exit_code"], after["ended_at"]) == ("stopped", 0, before["ended_at"])


async def test_stop_ends_the_whole_process_group(client: InstanceClient) -> None:
    process = await start(client, ["sh", "-c", "sleep 300 & sleep 301; wait"], immediate=True)
    children = await until_async(
        lambda: psutil.Process(process["pid"]).children(),
        "the shell to start its two sleeps",
        timeout=10,
        every=0.02,
        done=lambda found: len(found) >= 2,
    )
    assert os.getpgid(process["pid"]) == process["pid"]  # a group of its own…
    assert os.getpgid(process["pid"]) != os.getpgid(0)  # …not ours
    assert {os.getpgid(child.pid) for child in children} == {process["pid"]}
    stopped = await client.call("stop_process", {"process_id": process["id"]})
    assert stopped["state"] == "stopped"
    await until_async(
        lambda: all(gone(child.pid) for child in children),
        "the shell's background sleeps to end",
        timeout=2,
        every=0.01,
    )


def gone(pid: int) -> bool:
    """Ended (a zombie waiting for whoever inherited it has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def until_text(client: InstanceClient, process_id: str, text: str, timeout: float = 15) -> None:
    await until_async(
        lambda: texts(client, process_id, log_type="stdout"),
        f"{text!r} to be printed",
        timeout=timeout,
        every=0.02,
        done=lambda printed: text in printed,
    )


async def test_list_processes_filters_before_the_limit_and_counts_every_match(
    client: InstanceClient, watch: Watcher
) -> None:
    failing = [(await start(client, ["false"], name=f"Beta {i}"))["id"] for i in range(3)]
    passing = [(await start(client, ["true"], name=f"alpha {i}"))["id"] for i in range(10)]
    await watch.until(lambda: watch.all_final(failing + passing), what="thirteen processes ending")
    # The ten newest are all 'stopped': a limit applied before the filter would find no failed one.
    failed = await client.call("list_processes", {"status": "failed", "limit": 2})
    assert failed["total"] == 3
    assert [p["id"] for p in failed["processes"]] == failing[::-1][:2]  # newest first
    page = await client.call("list_processes", {"status": "failed", "limit": 2, "offset": 2})
    assert [p["id"] for p in page["processes"]] == [failing[0]]
    named = await client.call("list_processes", {"name": "BETA", "limit": 1})
    assert (named["total"], named["processes"][0]["id"]) == (3, failing[-1])
    both = await client.call("list_processes", {"name": "alpha", "status": "failed"})
    assert (both["total"], both["processes"]) == (0, [])
    everything = await client.call("list_processes", {"limit": 5})
    assert (everything["total"], len(everything["processes"])) == (13, 5)


# --- output ----------------------------------------------------------------------------------------------------------

CHATTY = (
    "import sys\n"
    "for i in range(300):\n"
    "    print(f'out {i}')\n"
    "    if i % 10 == 0:\n"
    "        print(f'err {i}', file=sys.stderr)\n"
    "print()\n"
)


async def test_every_line_is_in_the_log_file_in_order_tagged_and_timestamped(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process = await start(client, py(CHATTY))
    await settle(client, process["id"])
    data_folder = registry.find("Test Instance").path
    path = data_folder / "logs" / "processes" / f"{process['id']}.log"
    assert path == log_path(instance, process["id"])
    entries = log_entries(path)
    out = [text for _, tag, text in entries if tag == b"out"]
    err = [text for _, tag, text in entries if tag == b"err"]
    sys_lines = [text for _, tag, text in entries if tag == b"sys"]
    assert out == [b"out %d" % i for i in range(300)] + [b""]
    assert err == [b"err %d" % i for i in range(0, 300, 10)]
    assert sys_lines[0].startswith(b"attempt 1: ")
    assert sys_lines[-1] == b"exited with code 0"
    assert (entries[0][1], entries[-1][1]) == (b"sys", b"sys")
    stamps = [when(stamp) for stamp, _, _ in entries]
    assert stamps == sorted(stamps)


async def test_a_command_with_newlines_keeps_the_log_one_entry_per_line(
    instance: RunningInstance, client: InstanceClient
) -> None:
    """`python -c` with a multi-line program: Murmuration's own note naming the command must not break the file."""
    process = await start(client, [sys.executable, "-c", "print('one')\nprint('two')\n"])
    await settle(client, process["id"])
    raw = log_path(instance, process["id"]).read_bytes()
    stray = [line for line in raw.split(b"\n")[:-1] if not LOG_LINE.match(line)]
    assert stray == [], f"lines without a timestamp and tag in {raw!r}"
    assert await texts(client, process["id"], log_type="stdout") == ["one", "two"]
    system = await texts(client, process["id"], log_type="system")
    assert len(system) == 2
    assert "print('two')" in system[0]


async def test_get_process_logs_tail_and_stream(client: InstanceClient) -> None:
    code = "import sys\nfor i in range(50): print(f'out {i}')\nfor i in range(10): print(f'err {i}', file=sys.stderr)\n"
    process = await start(client, py(code), immediate=True)
    await settle(client, process["id"])
    last = await logs(client, process["id"], lines=5)
    assert last[-1] == {"n": 62, "time": last[-1]["time"], "stream": "system", "text": "exited with code 0"}
    assert len(last) == 5
    assert await texts(client, process["id"], log_type="stdout", lines=3) == ["out 47", "out 48", "out 49"]
    assert await texts(client, process["id"], log_type="stderr", lines=100) == [f"err {i}" for i in range(10)]
    system = await texts(client, process["id"], log_type="system")
    assert len(system) == 2
    assert system[0].startswith("attempt 1: ")
    assert len(await logs(client, process["id"])) == 62  # the default of 100 covers all of them
    with pytest.raises(RpcError) as caught:
        await logs(client, process["id"], log_type="all")
    assert caught.value.data["field"] == "log_type"


async def test_get_process_logs_of_a_running_process_beyond_what_memory_holds(client: InstanceClient) -> None:
    """More lines than memory keeps come from the log file — which must already hold the newest line."""
    code = (
        "import sys, time\n"
        "sys.stdout.write(''.join(f'{i}\\n' for i in range(3000)))\n"
        "sys.stdout.flush()\n"
        "time.sleep(0.3)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = await start(client, py(code), immediate=True)
    await until_async(
        lambda: texts(client, process["id"], log_type="stdout", lines=1),
        "'ready' to be printed",
        timeout=15,
        every=0.001,
        done=lambda last: last == ["ready"],
    )
    many = await texts(client, process["id"], log_type="stdout", lines=2500)
    assert many[-3:] == ["2998", "2999", "ready"]
    assert many == [str(i) for i in range(501, 3000)] + ["ready"]
    assert await texts(client, process["id"], log_type="stdout", lines=3) == ["2998", "2999", "ready"]
    await client.call("stop_process", {"process_id": process["id"], "force": True})


async def test_ansi_colour_codes_are_kept_byte_for_byte(
    instance: RunningInstance, client: InstanceClient, watch: Watcher
) -> None:
    coloured = "\x1b[31mred\x1b[0m plain \x1b[1;32mbold green\x1b[0m \x1b[38;5;208morange\x1b[39m"
    process = await start(client, py(f"print({coloured!r})"))
    await watch.until(lambda: watch.state(process["id"]) in FINAL, what="the process ending")
    assert await texts(client, process["id"], log_type="stdout") == [coloured]
    assert [text for _, tag, text in log_entries(log_path(instance, process["id"])) if tag == b"out"] == [
        coloured.encode()
    ]
    live = [line["text"] for event in watch.output(process["id"]) for line in event["lines"]]
    assert live == [coloured]


async def test_a_last_line_without_newline_is_kept(client: InstanceClient) -> None:
    process = await start(client, ["printf", "first\\nno newline at the end"])
    await settle(client, process["id"])
    assert await texts(client, process["id"], log_type="stdout") == ["first", "no newline at the end"]


async def test_a_very_long_line_is_cut_into_pieces_and_nothing_is_lost(
    instance: RunningInstance, client: InstanceClient
) -> None:
    size = 4 * MAX_LINE + 12_345
    code = (
        f"import sys\nsys.stdout.write('before\\n' + ''.join(chr(97 + i % 26) for i in range({size})) + '\\nafter\\n')"
    )
    process = await start(client, py(code))
    await settle(client, process["id"])
    out = [text for _, tag, text in log_entries(log_path(instance, process["id"])) if tag == b"out"]
    assert out[0] == b"before"
    assert out[-1] == b"after"
    pieces = out[1:-1]
    assert len(pieces) > 1
    assert b"".join(pieces) == bytes(97 + i % 26 for i in range(size))
    shown = await texts(client, process["id"], log_type="stdout", lines=100)
    assert "".join(shown[1:-1]) == "".join(chr(97 + i % 26) for i in range(size))


async def test_live_output_arrives_in_batches(client: InstanceClient, watch: Watcher) -> None:
    count = 20_000
    process = await start(client, flood(count))
    await watch.until(lambda: watch.state(process["id"]) in FINAL, what="the flood ending")
    await watch.until(
        lambda: sum(len(e["lines"]) + e["skipped"] for e in watch.output(process["id"])) >= count,
        timeout=5,
        what="the last output batch",
    )
    batches = watch.output(process["id"])
    assert not [e for e in watch.events if e.get("topic") == "overflow"]
    assert sum(len(e["lines"]) + e["skipped"] for e in batches) == count  # each line shown or counted as skipped
    assert all(len(e["lines"]) <= BATCH_LINES for e in batches)
    assert len(batches) < count / 100  # batches, not an event per line
    shown = [int(line["text"]) for e in batches for line in e["lines"]]
    assert shown == sorted(shown)
    assert len(set(shown)) == len(shown)
    assert all(line["stream"] == "stdout" and line["time"] for e in batches for line in e["lines"])


async def test_live_output_ends_with_the_last_line_printed(client: InstanceClient, watch: Watcher) -> None:
    """After a flood, the dashboard must see how the output ends (say, a build's final error), not an older line."""
    count = 100_000
    code = f"import sys\nsys.stdout.writelines(f'{{i}}\\n' for i in range({count}))\nprint('the last line')\n"
    process = await start(client, py(code))
    await watch.until(lambda: watch.state(process["id"]) in FINAL, what="the flood ending")
    await watch.until(
        lambda: sum(len(e["lines"]) + e["skipped"] for e in watch.output(process["id"])) >= count + 1,
        timeout=5,
        what="the last output batch",
    )
    shown = [line["text"] for e in watch.output(process["id"]) for line in e["lines"]]
    assert shown[-1] == "the last line", f"the live output ends with {shown[-3:]}"


async def test_a_million_lines_are_all_logged_in_order_while_the_server_answers_ping(
    instance: RunningInstance, client: InstanceClient
) -> None:
    count = 1_000_000
    answered: list[float] = []
    done = asyncio.Event()

    async def keep_pinging() -> None:
        while not done.is_set():
            began = time.monotonic()
            await asyncio.wait_for(client.call("ping"), 2.0)  # a TimeoutError fails the test
            answered.append(time.monotonic() - began)
            await asyncio.sleep(0.005)

    pinger = asyncio.create_task(keep_pinging())
    try:
        process = await start(client, flood(count), immediate=True)
        final = await settle(client, process["id"], timeout=120)
        done.set()
        await pinger
    finally:
        done.set()
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
    assert final["state"] == "stopped"
    assert len(answered) >= 5
    out = [text for _, tag, text in log_entries(log_path(instance, process["id"])) if tag == b"out"]
    assert len(out) == count
    assert (out[0], out[500_000], out[-1]) == (b"0", b"500000", b"999999")
    assert out == [b"%d" % i for i in range(count)]
    assert await texts(client, process["id"], log_type="stdout", lines=2) == ["999998", "999999"]


# --- hostile input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"command": ["no-such-program-murmuration"]}, "command", id="missing-program"),
        pytest.param({"script_name": "no-such-program-murmuration"}, "command", id="missing-script"),
        pytest.param({"command": ["./no-such-script.sh"]}, "command", id="missing-relative"),
        pytest.param({"command": []}, "command", id="empty-argv"),
        pytest.param({"command": [""]}, "command", id="empty-program"),
        pytest.param({"command": ["sh"], "script_name": "sh"}, "command", id="command-and-script"),
        pytest.param({"command": ["sh"], "args": ["-c"]}, "args", id="command-and-args"),
        pytest.param({"title": "nothing to run"}, "command", id="neither"),
        pytest.param({"command": ""}, "command", id="empty-string"),
        pytest.param({"command": "   \t\n "}, "command", id="whitespace-only-string"),
        pytest.param({"command": "serve --port {port}"}, "port", id="port-placeholder-without-port"),
        pytest.param({"command": "true", "wait_for": {"log": "(unclosed"}}, "wait_for", id="invalid-regex"),
        pytest.param({"command": "true", "wait_for": {"log": "x", "timeout": 121}}, "wait_for", id="timeout-over-cap"),
        pytest.param({"command": "true", "wait_for": {}}, "wait_for", id="wait-for-nothing"),
        pytest.param({"command": "true", "wait_for": {"log": "x", "port": True}}, "wait_for", id="wait-for-both"),
        pytest.param({"command": "true", "restart": "sometimes"}, "restart", id="restart-unknown"),
        pytest.param({"command": "true", "port": 80}, "port", id="port-below-1024"),
        pytest.param({"command": "true", "port": 65536}, "port", id="port-above-65535"),
        pytest.param({"command": "true", "port": "3000"}, "port", id="port-as-text"),
        pytest.param({"command": "true", "max_restarts": -1}, "max_restarts", id="negative-max-restarts"),
        pytest.param({"command": "true", "tty": "yes"}, "tty", id="tty-as-text"),
        pytest.param({"command": ["true"], "cwd": "/no/such/folder"}, "cwd", id="cwd-missing"),
        pytest.param({"command": ["true"], "cwd": "/etc/hostname"}, "cwd", id="cwd-is-a-file"),
        pytest.param({"command": ["true"], "cwd": ""}, "cwd", id="cwd-empty"),
        pytest.param({"command": ["true"], "priority": 0}, "priority", id="priority-0"),
        pytest.param({"command": ["true"], "priority": 11}, "priority", id="priority-11"),
        pytest.param({"command": ["true"], "priority": -1}, "priority", id="priority-negative"),
        pytest.param({"command": ["true"], "priority": "high"}, "priority", id="priority-high"),
        pytest.param({"command": ["true"], "priority": 5.5}, "priority", id="priority-5.5"),
        pytest.param({"command": ["true"], "priority": True}, "priority", id="priority-bool"),
        pytest.param({"command": ["true"], "env_vars": {"1BAD": "x"}}, "env_vars", id="env-digit-first"),
        pytest.param({"command": ["true"], "env_vars": {"A=B": "x"}}, "env_vars", id="env-equals"),
        pytest.param({"command": ["true"], "env_vars": {"": "x"}}, "env_vars", id="env-empty-name"),
        pytest.param({"command": ["true"], "env_vars": {"A": 5}}, "env_vars", id="env-not-text"),
        pytest.param({"command": ["true"], "env_vars": ["A=B"]}, "env_vars", id="env-list"),
        pytest.param({"command": ["echo", "x" * 40_000]}, "command", id="huge-arg"),
        pytest.param({"command": ["true"] * 1001}, "command", id="too-many-args"),
        pytest.param({"command": ["true"], "title": ""}, "title", id="empty-title"),
        pytest.param({"command": ["true"], "immediate": "yes"}, "immediate", id="immediate-text"),
        pytest.param({"command": ["true"], "shell": True}, "shell", id="unknown-field"),
    ],
)
async def test_hostile_start_process_gets_a_clear_error_naming_the_field(
    instance: RunningInstance, client: InstanceClient, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(RpcError) as caught:
        await client.call("start_process", params)
    assert caught.value.code == INVALID_PARAMS
    assert caught.value.data["field"].split(".")[0] == field, caught.value.data
    assert caught.value.message.endswith("."), caught.value.message
    # Nothing half-written, and the server keeps serving.
    assert (await client.call("list_processes"))["total"] == 0
    assert log_files(Path(instance.ctx.processes.log_folder)) == []
    assert await client.call("ping") is not None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"command": ["sh", "-c", "true", "nul\x00byte"]}, "command", id="nul-in-arg"),
        pytest.param({"command": ["true"], "env_vars": {"VALUE": "nul\x00byte"}}, "env_vars", id="nul-in-env"),
        pytest.param({"command": ["true"], "cwd": "/tmp\x00/x"}, "cwd", id="nul-cwd"),
    ],
)
async def test_a_nul_byte_is_refused_not_left_starting_forever(
    client: InstanceClient, params: dict[str, Any], field: str
) -> None:
    """No OS takes a NUL inside an argument, a variable or a path: refuse it up front, naming the field."""
    result = await outcome(client, "start_process", {**params, "immediate": True})
    if not isinstance(result, RpcError):
        record = await status(client, result["id"])
        raise AssertionError(f"accepted, and the process is {record['state']!r} (error {record['error']!r})")
    assert result.code == INVALID_PARAMS
    assert result.data["field"].split(".")[0] == field
    queue = await client.call("get_queue_status")
    assert queue["running"] == 0


async def test_a_huge_but_legal_argv_runs(client: InstanceClient) -> None:
    args = ["x" * 32_000] * 28  # close to the 1 MiB message limit
    process = await start(client, py("import sys; print(sum(map(len, sys.argv[1:])))") + args)
    assert (await settle(client, process["id"]))["state"] == "stopped"
    assert await texts(client, process["id"], log_type="stdout") == [str(32_000 * 28)]


async def test_a_relative_cwd_is_taken_from_the_instance_folder_not_the_server_process(
    instance: RunningInstance, client: InstanceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path(instance.ctx.info.cwd) / "sub").mkdir()
    elsewhere = tmp_path / "server-cwd"
    (elsewhere / "sub").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # wherever `murmuration serve` happened to be started
    process = await outcome(client, "start_process", {"command": py("import os; print(os.getcwd())"), "cwd": "sub"})
    if isinstance(process, RpcError):  # refusing a relative cwd is fine too
        assert process.data["field"] == "cwd"
        return
    await settle(client, process["id"])
    ran_in = await texts(client, process["id"], log_type="stdout")
    assert ran_in == [real(Path(instance.ctx.info.cwd) / "sub")]


async def test_ten_thousand_queued_entries_are_capped_by_max_queue_size(
    instance: RunningInstance, client: InstanceClient
) -> None:
    await client.call("pause_queue")
    limit = (await client.call("get_queue_status"))["config"]["max_queue_size"]
    results = await asyncio.gather(
        *(client.call("start_process", {"command": ["true"], "name": f"n{i}"}) for i in range(10_000)),
        return_exceptions=True,
    )
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, RpcError)]
    assert len(accepted) == limit
    assert len(refused) == 10_000 - limit
    assert not [r for r in results if not isinstance(r, dict | RpcError)]
    assert {r.code for r in refused} == {CONFLICT}
    assert all(str(limit) in r.message and "max_queue_size" in r.message for r in refused)
    # Nothing half-written: exactly the accepted entries are stored, each once.
    queued = await client.call("list_processes", {"status": "queued", "limit": 1})
    assert queued["total"] == limit
    assert (await client.call("list_processes", {"limit": 1}))["total"] == limit
    assert len({r["id"] for r in accepted}) == limit
    assert (await client.call("get_queue_status", {"include_entries": False}))["pending"] == limit
    assert await client.call("ping") is not None
    # The cap is the setting, applied at once.
    await set_config(client, max_queue_size=limit + 1)
    await start(client, ["true"])
    with pytest.raises(RpcError):
        await start(client, ["true"])


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("set_queue_config", {"max_concurrent": 0}, "max_concurrent"),
        ("set_queue_config", {"max_concurrent": "2"}, "max_concurrent"),
        ("set_queue_config", {"max_queue_size": 10_001}, "max_queue_size"),
        ("set_queue_config", {"retry_delay_ms": 10}, "retry_delay_ms"),
        ("set_queue_config", {"retryDelay": 10}, "retry_delay_ms"),  # the original's spelling, today's name
        ("set_queue_config", {"retry_factor": 0.5}, "retry_factor"),
        ("set_queue_config", {"max_retries": -1}, "max_retries"),
        ("set_queue_config", {"colour": "red"}, "colour"),
        ("stop_process", {"process_id": "x", "timeout": 50}, "timeout"),
        ("stop_process", {"process_id": ""}, "process_id"),
        ("stop_process", {}, "process_id"),
        ("get_process_logs", {"process_id": "x", "lines": 0}, "lines"),
        ("list_processes", {"status": "done"}, "status"),
        ("list_processes", {"limit": 0}, "limit"),
        ("cancel_queued_process", {}, "queue_id"),
    ],
)
async def test_bad_parameters_of_the_other_operations_name_the_field(
    client: InstanceClient, method: str, params: dict[str, Any], field: str
) -> None:
    before = await client.call("get_queue_status")
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    assert caught.value.code == INVALID_PARAMS
    assert caught.value.data["field"] == field
    assert (await client.call("get_queue_status"))["config"] == before["config"]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("get_process_status", {"process_id": "nope"}),
        ("get_process_logs", {"process_id": "nope"}),
        ("stop_process", {"process_id": "nope"}),
    ],
)
async def test_an_unknown_process_id_is_not_found(client: InstanceClient, method: str, params: dict[str, Any]) -> None:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    assert (caught.value.code, caught.value.data["field"]) == (NOT_FOUND, "process_id")
