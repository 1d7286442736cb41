"""The text "Copy MCP config" puts on the clipboard: `murmuration mcp-config NAME`, or a JSON snippet."""

from __future__ import annotations

import json
import subprocess

from murmuration.selfcommand import self_command

TIMEOUT = 20.0


def mcp_config(instance_id: str) -> str:
    """What wires an MCP client (Claude Desktop) to the instance (blocking: run it in a thread)."""
    try:
        done = subprocess.run(
            self_command("mcp-config", instance_id),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return fallback_snippet(instance_id)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip() + "\n"
    return fallback_snippet(instance_id)


def fallback_snippet(instance_id: str) -> str:
    """A claude_desktop_config.json entry that runs the MCP bridge of the instance (when mcp-config is absent)."""
    command, *args = self_command("mcp", "--instance", instance_id)
    entry = {"mcpServers": {f"murmuration-{instance_id}": {"command": command, "args": args}}}
    return json.dumps(entry, indent=2) + "\n"
