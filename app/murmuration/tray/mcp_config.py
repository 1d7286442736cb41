"""What "Copy MCP config" offers: one entry per MCP client, each with the snippet and where it goes.

The snippet comes from the same code as `murmuration mcp-config` (so it names `MURMURATION_HOME` when the
tray runs with one), called directly: no child process, no second copy of the format.
"""

from __future__ import annotations

from murmuration.mcp_bridge import client_config

# The clients in the order the menu shows them, with the names people know them by.
CLIENT_LABELS = {"claude-code": "Claude Code", "claude-desktop": "Claude Desktop", "vscode": "VS Code"}


def mcp_config(client: str, instance_id: str) -> tuple[str, str]:
    """The text for `client` to wire it to the instance, and one sentence saying where it goes."""
    return client_config.snippet(client, instance_id) + "\n", client_config.where_it_goes(client)
