"""`murmuration mcp-config`: the snippet (or command line) that wires an agent's MCP client to one instance."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from murmuration.contract import MCP_CLIENTS
from murmuration.home import HOME_ENV, base_folder
from murmuration.installation import check_lasting
from murmuration.selfcommand import console_command


def bridge_command(instance_id: str) -> list[str]:
    """The command an MCP client runs for the bridge of `instance_id`, with absolute paths.

    Absolute, because MCP clients (Claude Desktop above all) do not start from the user's shell and its PATH; the
    console executable, because the client talks to it on stdio. Raises VanishingInstallation when that path will
    not last (the app runs from a disk image, say).
    """
    args = ["mcp", "--instance", instance_id]
    command = console_command(*args)
    if not getattr(sys, "frozen", False):
        script = Path(sys.executable).parent / ("murmuration.exe" if sys.platform == "win32" else "murmuration")
        if script.is_file():
            command = [str(script), *args]
    check_lasting(Path(command[0]))
    return command


def bridge_env() -> dict[str, str]:
    """The environment the bridge needs to find the instance: the base folder, when it is not the default one."""
    return {HOME_ENV: str(base_folder())} if os.environ.get(HOME_ENV) else {}


def server_name(instance_id: str) -> str:
    """The key the MCP client shows for this instance's tools."""
    return f"murmuration-{instance_id}"


def snippet(client: str, instance_id: str) -> str:
    """The text to paste (JSON) or run (`claude mcp add …`) for `client`."""
    command, *args = bridge_command(instance_id)
    env = bridge_env()
    name = server_name(instance_id)
    if client == "claude-code":
        # The name goes first: --env takes several values and would swallow a name after it.
        options = [part for key, value in env.items() for part in ("--env", f"{key}={value}")]
        return _join(["claude", "mcp", "add", name, *options, "--", command, *args])
    entry: dict[str, Any] = {"command": command, "args": args}
    if env:
        entry["env"] = env
    if client == "vscode":  # .vscode/mcp.json
        return json.dumps({"servers": {name: {"type": "stdio", **entry}}}, indent=2)
    if client == "claude-desktop":  # claude_desktop_config.json
        return json.dumps({"mcpServers": {name: entry}}, indent=2)
    raise ValueError(f"Unknown MCP client {client!r}; choose one of {', '.join(MCP_CLIENTS)}.")


def where_it_goes(client: str) -> str:
    """One line saying where the snippet belongs."""
    return {
        "claude-desktop": "Add this to claude_desktop_config.json (Settings > Developer > Edit Config), then "
        "restart Claude Desktop.",
        "claude-code": "Run this line in your project folder.",
        "vscode": "Add this to .vscode/mcp.json in your workspace (or to your user MCP configuration).",
    }[client]


def _join(argv: list[str]) -> str:
    return subprocess.list2cmdline(argv) if sys.platform == "win32" else shlex.join(argv)
