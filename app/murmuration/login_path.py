"""The user's own PATH for an app that macOS started from Finder, the Dock or a login item.

launchd gives such an app only /usr/bin:/bin:/usr/sbin:/sbin, so the instances it starts could not find `claude`,
`node` or anything in /opt/homebrew/bin or ~/.local/bin. At start the app asks the user's login shell for its PATH
(bounded by a timeout, since a shell's start-up files can hang) and puts it in front of its own; the instances and
their processes inherit it. From a terminal the PATH is already the user's, and nothing is asked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import MutableMapping

from murmuration.user_environment import user_environment

# What launchd sets for a GUI app; a PATH of nothing else means nobody's shell has run for this process.
LAUNCHD_PATH = ("/usr/bin", "/bin", "/usr/sbin", "/sbin")
TIMEOUT = 5.0  # seconds: a login shell usually answers in well under one
MARK = "__murmuration_login_path__"
# Between two marks, so whatever the start-up files print (a banner, a fortune) is left out.
SCRIPT = f'printf "%s%s%s" "{MARK}" "$PATH" "{MARK}"'


def user_shell(environ: MutableMapping[str, str] = os.environ) -> str:
    """The user's login shell: $SHELL, else the account's shell, else zsh (macOS's default)."""
    if environ.get("SHELL"):
        return environ["SHELL"]
    with contextlib.suppress(ImportError, KeyError, OSError):
        import pwd  # POSIX only: this module is imported on Windows too

        shell = pwd.getpwuid(os.getuid()).pw_shell
        if shell:
            return shell
    return "/bin/zsh"


def shell_path(shell: str, timeout: float = TIMEOUT, env: dict[str, str] | None = None) -> str | None:
    """The PATH that `shell`, started as an interactive login shell, sets; None if it fails, hangs or says nothing.

    Interactive as well as login, because people set PATH in .zshrc or .bashrc as often as in .zprofile.
    """
    try:
        shell_process = subprocess.Popen(
            [shell, "-i", "-l", "-c", SCRIPT],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=user_environment(os.environ if env is None else env),  # the user's shell loads its own libraries
            start_new_session=True,  # no terminal to take over, and one group to end if it hangs
        )
    except OSError:
        return None
    try:
        out, _ = shell_process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The whole group: a `sleep` or a prompt the start-up files run holds the pipe open after the shell dies.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell_process.pid, signal.SIGKILL)  # type: ignore[attr-defined,unused-ignore]
        shell_process.communicate()
        return None
    return parse(out.decode("utf-8", "replace"))


def parse(output: str) -> str | None:
    """The PATH between the marks of SCRIPT's output, or None when the output has none."""
    parts = output.split(MARK)
    if len(parts) < 3 or not parts[-2].strip():
        return None
    return parts[-2]


def merge(first: str, then: str) -> str:
    """The entries of `first`, then those of `then` that `first` lacks; each once, in order, none empty."""
    seen: list[str] = []
    for entry in [*first.split(os.pathsep), *then.split(os.pathsep)]:
        if entry and entry not in seen:
            seen.append(entry)
    return os.pathsep.join(seen)


def launched_bare(path: str) -> bool:
    """Whether `path` is launchd's bare PATH (or empty): no shell has set it up for this process."""
    return all(entry in LAUNCHD_PATH for entry in path.split(os.pathsep) if entry)


def adopt(
    environ: MutableMapping[str, str] = os.environ,
    platform: str = sys.platform,
    shell: str | None = None,
    timeout: float = TIMEOUT,
) -> bool:
    """On macOS, when launched with launchd's bare PATH, put the login shell's PATH first; whether it changed."""
    if platform != "darwin" or not launched_bare(environ.get("PATH", "")):
        return False
    found = shell_path(shell or user_shell(environ), timeout, env=dict(environ))
    if found is None:
        return False
    environ["PATH"] = merge(found, environ.get("PATH", ""))
    return True
