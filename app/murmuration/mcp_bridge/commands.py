"""The `mcp` and `mcp-config` sub-commands (the MCP SDK is imported only when a bridge really runs)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from murmuration.cli.commands import find
from murmuration.cli.errors import CommandError
from murmuration.datafolder import DataFolderError
from murmuration.installation import VanishingInstallation
from murmuration.mcp_bridge.client_config import snippet, where_it_goes
from murmuration.mcp_bridge.project import NoSuchInstance, bridge_folder


def mcp(args: argparse.Namespace) -> int:
    """Serve MCP on stdin/stdout for one agent, until it closes stdin."""
    from murmuration.mcp_bridge.bridge import run
    from murmuration.mcp_bridge.identity import AgentIdentity, BadAgentName, chosen_name
    from murmuration.mcp_bridge.link import InstanceLink, idle_exit_setting
    from murmuration.mcp_bridge.logs import close_bridge_log, held_lines, open_bridge_log
    from murmuration.operations import build_table

    try:
        name = chosen_name(args.agent)
    except BadAgentName as exc:
        raise CommandError(str(exc)) from None
    identity = AgentIdentity(wanted=name, chosen=name is not None)
    try:
        with held_lines() as held:
            folder = bridge_folder(args.instance, args.data_dir, Path.cwd())
        handler = open_bridge_log(folder, held)
    except NoSuchInstance as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"Cannot use the data folder: {exc}.") from None
    if sys.stdin.isatty():
        print(
            "murmuration mcp speaks MCP on stdin and stdout for an agent; "
            "wire one to it with `murmuration mcp-config NAME`.",
            file=sys.stderr,
        )
    try:
        link = InstanceLink(folder, idle_exit_setting(), identity=identity)
        asyncio.run(run(folder, link, build_table()))
    finally:
        close_bridge_log(handler)
    return 0


def mcp_config(args: argparse.Namespace) -> int:
    """Print what wires an agent's MCP client to an instance; where it goes is said on stderr."""
    folder = find(args.name)
    try:
        instance_id = folder.read_info().id
    except DataFolderError as exc:
        raise CommandError(str(exc)) from None
    try:
        text = snippet(args.client, instance_id)
    except VanishingInstallation as exc:
        raise CommandError(str(exc)) from None
    print(text)
    print(where_it_goes(args.client), file=sys.stderr)
    return 0
