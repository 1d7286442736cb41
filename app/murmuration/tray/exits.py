"""A server's exit told in words, and written into its log with the last lines it wrote to stderr.

A crashed server cannot log its own death; the tray, which saw it, writes the record for it, so the log a
person opens from "Keeps crashing — see its log" holds the cause.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from datetime import datetime

from murmuration.datafolder import DataFolder

STDERR_TAIL_BYTES = 16 * 1024
STDERR_LINES = 8


def describe(status: int | None) -> str:
    """How a server ended, after "it": "exited with status 1", "was killed by signal 9 (SIGKILL)"."""
    if status is None:
        return "ended without cleaning up (its exit status is unknown)"
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by signal {-status} ({signal.Signals(-status).name})"
        return f"was killed by signal {-status}"
    return f"exited with status {status}"


def last_errors(folder: DataFolder, secrets: tuple[str, ...] = (), lines: int = STDERR_LINES) -> list[str]:
    """The last lines the server wrote to its stderr (secrets blanked out), oldest first."""
    try:
        with open(folder.stderr_log, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - STDERR_TAIL_BYTES))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    tail = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
    for secret in (s for s in secrets if s):
        tail = [line.replace(secret, "[redacted]") for line in tail]
    return tail


def record(folder: DataFolder, pid: int | None, status: int | None, secrets: tuple[str, ...] = ()) -> str:
    """Write the exit into the server's log and return it in words, with the last stderr line if there is one."""
    words = describe(status)
    errors = last_errors(folder, secrets)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    who = f"the server (pid {pid})" if pid is not None else "the server"
    lines = [f"{stamp} {logging.getLevelName(logging.ERROR)} murmuration.tray: {who} {words} without being asked to."]
    if errors:
        lines.append(f"  its last lines on stderr ({folder.stderr_log}):")
        lines.extend(f"    {line}" for line in errors)
    else:
        lines.append("  it wrote nothing to stderr.")
    with contextlib.suppress(OSError):
        folder.server_log.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.server_log, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return f"{words}: {errors[-1].strip().rstrip('.')}" if errors else words
