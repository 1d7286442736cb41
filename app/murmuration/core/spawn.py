"""How a managed process is started and signalled on this platform.

A string command runs in the platform's shell, a list runs as argv exactly. On POSIX, stdout is a
pseudo-terminal (programs print as they go and keep their colours instead of buffering for a pipe),
stderr stays a pipe of its own and stdin is never a terminal; each process leads its own process group.
On Windows each process runs in a kill-on-close Job object, without a console window.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from murmuration.core.winjob import CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, Job
from murmuration.user_environment import user_environment

POSIX_SHELL = "/bin/sh"
TERMINAL_SIZE = (50, 200)  # rows, columns: wide enough that tools do not wrap their progress lines
READ_LIMIT = 1 << 20  # bytes a stream may buffer before reading from the process pauses

Command = str | list[str]


def environment(inherited: Mapping[str, str], asked: Mapping[str, str], port: int | None) -> dict[str, str]:
    """The child's environment: the user's, then defaults that keep output live and nothing waiting, then the
    caller's."""
    env = user_environment(inherited)
    # Output as it is printed (Python buffers a pipe), and no pager waiting for a key that never comes.
    env.update({"PYTHONUNBUFFERED": "1", "PAGER": "cat", "GIT_PAGER": "cat"})
    env.setdefault("TERM", "xterm-256color")
    env.update(asked)
    if port is not None:
        env["PORT"] = str(port)
    return env


def with_port(command: Command, port: int | None) -> Command:
    """`command` with `{port}` replaced in a string command (a list is passed exactly as given)."""
    if isinstance(command, str) and port is not None:
        return command.replace("{port}", str(port))
    return command


@dataclass
class Spawned:
    """A started process, its two output streams and (on Windows) the job holding its tree."""

    child: asyncio.subprocess.Process
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    job: Job | None = None


class _ReadToEnd(asyncio.Protocol):
    """Feeds a StreamReader; an error on the pipe (a pty's EIO once the last writer closes) is its end."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.reader.set_transport(transport)  # lets the reader pause a flood

    def data_received(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.feed_eof()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform == "win32":
        return  # only ever used on Linux
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _options() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    options: dict[str, Any] = {"start_new_session": True}  # its own process group (and session, no terminal)
    if sys.platform.startswith("linux"):
        options["preexec_fn"] = _die_with_parent
    return options


def _open_terminal() -> tuple[int, int]:
    """A pseudo-terminal pair whose output bytes are exactly what the program wrote (no \\n → \\r\\n)."""
    if sys.platform == "win32":
        raise OSError("Windows has no POSIX pseudo-terminals.")
    import fcntl
    import termios

    master, slave = os.openpty()
    attributes = termios.tcgetattr(slave)
    attributes[1] &= ~termios.OPOST  # output processing off: the log holds the program's own bytes
    attributes[3] &= ~(termios.ECHO | termios.ICANON)
    termios.tcsetattr(slave, termios.TCSANOW, attributes)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *TERMINAL_SIZE, 0, 0))
    return master, slave


async def _reader_of(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: _ReadToEnd(reader), os.fdopen(fd, "rb", buffering=0))
    return reader


async def spawn(command: Command, cwd: str, env: dict[str, str], tty: bool) -> Spawned:
    """Start `command`; OSError or ValueError when the OS refuses it (nothing is left open then)."""
    pipe = asyncio.subprocess.PIPE
    common: Any = {"cwd": cwd, "env": env, "stdin": asyncio.subprocess.DEVNULL, "stderr": pipe, **_options()}
    if sys.platform == "win32":
        if isinstance(command, str):
            child = await asyncio.create_subprocess_shell(command, stdout=pipe, **common)
        else:
            child = await asyncio.create_subprocess_exec(*command, stdout=pipe, **common)
        job: Job | None = Job()
        assert job is not None
        try:
            job.add(child.pid)
        except OSError:
            # The child may have ended already; its stop then needs no job.
            job.close()
            job = None
        assert child.stdout is not None
        assert child.stderr is not None
        return Spawned(child, child.stdout, child.stderr, job)
    argv: list[str] = [POSIX_SHELL, "-c", command] if isinstance(command, str) else command
    if not tty:
        child = await asyncio.create_subprocess_exec(*argv, stdout=pipe, **common)
        assert child.stdout is not None
        assert child.stderr is not None
        return Spawned(child, child.stdout, child.stderr)
    master, slave = _open_terminal()
    try:
        child = await asyncio.create_subprocess_exec(*argv, stdout=slave, **common)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)  # the child holds its own copy; our end must close so the stream can end
    assert child.stderr is not None
    return Spawned(child, await _reader_of(master), child.stderr)


def interrupt(spawned: Spawned) -> bool:
    """Ask the process tree to end (TERM to its group); False when it cannot be asked and must be killed.

    Windows has no signal to ask with: a console control event (CTRL_BREAK) reaches only processes sharing the
    sender's console, and a managed process has none of ours (CREATE_NO_WINDOW) — a console-less server even gets
    WinError 6 trying. So there the answer is always False and the caller ends the job.
    """
    if sys.platform == "win32":
        return False
    try:
        os.killpg(spawned.child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True  # already gone
    except OSError:
        return False
    return True


def kill(spawned: Spawned) -> None:
    """End the whole process tree at once."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if sys.platform == "win32":
            if spawned.job is not None:
                spawned.job.terminate()
            else:
                spawned.child.kill()
        else:
            os.killpg(spawned.child.pid, signal.SIGKILL)
