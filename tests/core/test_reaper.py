"""The reaper (core/reaper.py) on real process groups: end_group's TERM-then-KILL, and the watchdog that ends every
group it was told about once its pipe closes — however the server holding that pipe ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import psutil
import pytest

from murmuration.core.reaper import Reaper, end_group
from murmuration.selfcommand import self_command
from tests.waiting import Deadline, until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX; Windows uses Job objects")

IGNORE_TERM = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(120)
    """
)


def gone(pid: int) -> bool:
    """True when `pid` has ended (a zombie waiting to be reaped has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def descendants(pid: int, count: int, timeout: float = 10) -> list[int]:
    """The pids of `pid`'s descendants, once there are `count` of them."""
    found: list[int] = []

    def enough() -> bool:
        nonlocal found
        try:
            found = [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return False
        return len(found) >= count

    until(enough, f"{count} descendants of {pid}", timeout=timeout, every=0.01)
    return found


class Groups:
    """Process groups a test starts; whatever is left of them is killed afterwards."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **options: object) -> subprocess.Popen[bytes]:
        options.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(argv, start_new_session=True, **options)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def shell_with_grandchildren(self) -> tuple[subprocess.Popen[bytes], list[int]]:
        """A shell (its own group leader) with two background sleeps: the shape of `npm run dev`."""
        proc = self.start(["sh", "-c", "sleep 300 & sleep 301 & wait"])
        return proc, descendants(proc.pid, 2)

    def end_all(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


@pytest.fixture
def groups() -> Iterator[Groups]:
    started = Groups()
    try:
        yield started
    finally:
        started.end_all()


def test_end_group_ends_a_shell_and_its_background_children(groups: Groups) -> None:
    proc, children = groups.shell_with_grandchildren()
    end_group(proc.pid)
    assert proc.wait(timeout=5) == -signal.SIGTERM
    until(lambda: all(gone(pid) for pid in children), "the shell's background sleeps ending", timeout=2, every=0.01)


def test_end_group_kills_a_group_that_ignores_term_after_the_grace(groups: Groups) -> None:
    proc = groups.start([sys.executable, "-c", IGNORE_TERM], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    start = time.monotonic()
    end_group(proc.pid, grace=0.3)
    elapsed = time.monotonic() - start
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert 0.3 <= elapsed < 2


def test_end_group_returns_at_once_when_the_group_ended_by_itself(groups: Groups) -> None:
    proc = groups.start(["true"])
    proc.wait(timeout=10)
    start = time.monotonic()
    end_group(proc.pid)
    assert time.monotonic() - start < 0.5


def test_end_group_spares_other_groups(groups: Groups) -> None:
    doomed, _ = groups.shell_with_grandchildren()
    bystander, bystander_children = groups.shell_with_grandchildren()
    end_group(doomed.pid)
    doomed.wait(timeout=5)
    assert bystander.poll() is None
    assert not any(gone(pid) for pid in bystander_children)


def test_watchdog_ends_the_groups_it_was_told_about_when_its_pipe_closes(groups: Groups) -> None:
    watched, watched_children = groups.shell_with_grandchildren()
    second, _ = groups.shell_with_grandchildren()
    forgotten, forgotten_children = groups.shell_with_grandchildren()
    watchdog = groups.start(self_command("_reap"), stdin=subprocess.PIPE)
    assert watchdog.stdin is not None
    lines = f"+{watched.pid}\nnonsense\n+{second.pid}\n+x\n\n+{forgotten.pid}\n-{forgotten.pid}\n"
    watchdog.stdin.write(lines.encode())
    watchdog.stdin.flush()
    assert watched.poll() is None  # while the pipe is open, the watchdog only listens
    watchdog.stdin.close()
    assert watchdog.wait(timeout=10) == 0
    # The watchdog exits after its clean-up, so by now the groups are ended (the leaders wait to be reaped by us).
    assert watched.wait(timeout=2) == -signal.SIGTERM
    assert second.wait(timeout=2) == -signal.SIGTERM
    until(
        lambda: all(gone(pid) for pid in watched_children), "the watched group's sleeps ending", timeout=2, every=0.01
    )
    assert forgotten.poll() is None
    assert not any(gone(pid) for pid in forgotten_children)


def ignores(pid: int, signum: int) -> bool:
    """Whether process `pid` ignores `signum` (Linux: the SigIgn mask in /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_watchdog_ignores_ctrl_c_meant_for_the_server(groups: Groups) -> None:
    watched, _ = groups.shell_with_grandchildren()
    watchdog = groups.start(self_command("_reap"), stdin=subprocess.PIPE)
    assert watchdog.stdin is not None
    watchdog.stdin.write(f"+{watched.pid}\n".encode())
    watchdog.stdin.flush()
    until(lambda: ignores(watchdog.pid, signal.SIGINT), "the watchdog setting SIGINT aside", timeout=10, every=0.01)
    watchdog.send_signal(signal.SIGINT)  # Ctrl-C in the server's terminal reaches the whole foreground group
    watchdog.stdin.close()
    assert watchdog.wait(timeout=10) == 0
    assert watched.wait(timeout=2) == -signal.SIGTERM


async def test_reaper_runs_its_watchdog_outside_our_session_and_ends_groups_on_close(groups: Groups) -> None:
    watched, watched_children = groups.shell_with_grandchildren()
    forgotten, _ = groups.shell_with_grandchildren()
    reaper = Reaper(self_command("_reap"))
    try:
        await reaper.watch(watched.pid)
        await reaper.watch(forgotten.pid)
        await reaper.forget(forgotten.pid)
        assert reaper._process is not None
        watchdog_pid = reaper._process.pid
        assert os.getsid(watchdog_pid) != os.getsid(0)  # a signal to the server's group or session spares it
    finally:
        await reaper.close()
    assert gone(watchdog_pid)
    assert watched.wait(timeout=2) == -signal.SIGTERM
    until(
        lambda: all(gone(pid) for pid in watched_children), "the watched group's sleeps ending", timeout=2, every=0.01
    )
    assert forgotten.poll() is None


SERVER_STAND_IN = textwrap.dedent(
    """
    import asyncio, sys
    from murmuration.core.reaper import Reaper
    from murmuration.selfcommand import self_command

    async def main():
        reaper = Reaper(self_command("_reap"))
        await reaper.watch(int(sys.argv[1]))
        print("watching", flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


def test_groups_end_within_two_seconds_when_the_server_is_killed(groups: Groups) -> None:
    watched, watched_children = groups.shell_with_grandchildren()
    stand_in = groups.start([sys.executable, "-c", SERVER_STAND_IN, str(watched.pid)], stdout=subprocess.PIPE)
    assert stand_in.stdout is not None
    assert stand_in.stdout.readline() == b"watching\n"
    stand_in.kill()
    stand_in.wait(timeout=5)
    deadline = Deadline(2)
    until(
        lambda: watched.poll() is not None, "the watched shell ending after its server's kill -9", timeout=2, every=0.01
    )
    until(
        lambda: all(gone(pid) for pid in watched_children),
        "the shell's background sleeps ending",
        timeout=deadline.left(),
        every=0.01,
    )
