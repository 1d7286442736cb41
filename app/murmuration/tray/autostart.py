"""Start at login: an XDG autostart entry on Linux, a LaunchAgent on macOS, the Run key on Windows."""

from __future__ import annotations

import contextlib
import os
import plistlib
import subprocess
import sys
from pathlib import Path

from murmuration.home import HOME_ENV
from murmuration.installation import check_lasting
from murmuration.selfcommand import windowed_command

LABEL = "org.murmuration.tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def tray_command() -> list[str]:
    """The command line that starts this installation's tray."""
    if not getattr(sys, "frozen", False):
        script = Path(sys.executable).parent / ("murmuration.exe" if sys.platform == "win32" else "murmuration")
        if script.is_file():
            return [str(script), "tray"]
    return windowed_command("tray")  # on Windows the twin without a console window


def _environment() -> dict[str, str]:
    # A base folder chosen with MURMURATION_HOME must survive into the login session, which does not set it.
    value = os.environ.get(HOME_ENV)
    return {HOME_ENV: value} if value else {}


def desktop_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / "murmuration.desktop"


def launch_agent() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def is_enabled() -> bool:
    """Whether the tray starts when the user logs in."""
    if sys.platform == "darwin":
        return launch_agent().is_file()
    if sys.platform == "win32":
        return _run_value() is not None
    return desktop_file().is_file()


def set_enabled(enabled: bool) -> None:
    """Register (or remove) the tray as a login item for this user (VanishingInstallation: not from there)."""
    command = tray_command()
    if enabled:
        check_lasting(Path(command[0]))
    if sys.platform == "darwin":
        _set_launch_agent(enabled, command)
    elif sys.platform == "win32":
        _set_run_value(enabled, command)
    else:
        _set_desktop_file(enabled, command)


def desktop_entry(command: list[str]) -> str:
    """The XDG autostart entry that runs `command` at login."""
    env = _environment()
    argv = ["env", *(f"{k}={v}" for k, v in env.items()), *command] if env else command
    exec_line = " ".join(exec_argument(arg) for arg in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Murmuration\n"
        "Comment=Create, watch and open your Murmuration instances\n"
        f"Exec={exec_line}\n"
        "Icon=murmuration\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def exec_argument(arg: str) -> str:
    """One argument of a desktop entry's Exec key, quoted as the Desktop Entry spec wants (not as a shell does).

    Double quotes around an argument with a reserved character, a backslash before " ` $ and \\ inside them;
    then the string-value escape doubles every backslash, and % is doubled (it starts a field code).
    """
    if any(c in RESERVED for c in arg) or not arg:
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\").replace("%", "%%")


def _set_desktop_file(enabled: bool, command: list[str]) -> None:
    path = desktop_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".desktop.new")
    staging.write_text(desktop_entry(command), encoding="utf-8")
    os.replace(staging, path)


def _set_launch_agent(enabled: bool, command: list[str]) -> None:
    path = launch_agent()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    agent: dict[str, object] = {"Label": LABEL, "ProgramArguments": command, "RunAtLoad": True}
    if _environment():
        agent["EnvironmentVariables"] = _environment()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        plistlib.dump(agent, f)


def _run_value() -> str | None:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:  # type: ignore[attr-defined,unused-ignore]
            value, _ = winreg.QueryValueEx(key, "Murmuration")  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None
    return str(value)


def _set_run_value(enabled: bool, command: list[str]) -> None:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    access = winreg.KEY_SET_VALUE  # type: ignore[attr-defined,unused-ignore]
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:  # type: ignore[attr-defined,unused-ignore]
        if enabled:
            # The Run key has no environment of its own: a MURMURATION_HOME chosen for this session is not kept.
            line = subprocess.list2cmdline(command)
            winreg.SetValueEx(key, "Murmuration", 0, winreg.REG_SZ, line)  # type: ignore[attr-defined,unused-ignore]
        else:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, "Murmuration")  # type: ignore[attr-defined,unused-ignore]
