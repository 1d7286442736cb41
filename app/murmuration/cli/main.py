"""`murmuration …`: parse the command line and run one command; its exit codes are contract.py's."""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Sequence

from murmuration import __version__, login_path
from murmuration.cli.errors import CommandError
from murmuration.contract import DEFAULT_MCP_CLIENT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, MCP_CLIENTS


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one sentence and exit code 1 (2 means "port busy" here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"murmuration: {message}; see `murmuration --help`.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="murmuration", description="A local hub for AI coding agents: many instances side by side.")
    parser.add_argument("--version", action="version", version=f"murmuration {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start a throwaway instance, load its dashboard, check it and exit 0 (1 with the reason)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    serve = sub.add_parser("serve", help="run one instance's server in the foreground")
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument("--instance", metavar="NAME", help="an instance by name or id (created if missing)")
    where.add_argument("--data-dir", metavar="PATH", help="a data folder anywhere (made an instance if it is not one)")
    serve.add_argument("--port", metavar="N", help="exactly this port, or exit 2 (also: WS_PORT)")
    serve.add_argument(
        "--idle-exit",
        type=seconds,
        metavar="SECONDS",
        help="stop after this long with no client and no process (0: never; the MCP bridge sets it)",
    )
    serve.set_defaults(run="murmuration.cli.serve:serve")

    new = sub.add_parser("new", help="create an instance")
    new.add_argument("name", metavar="NAME")
    new.add_argument("--cwd", metavar="PATH", help="working directory for its processes (default: here)")
    new.set_defaults(run="murmuration.cli.commands:new")

    change = sub.add_parser("set", help="change an instance's settings")
    change.add_argument("name", metavar="NAME")
    change.add_argument("--cwd", metavar="PATH", help="the project folder its processes run in (from its next start)")
    change.set_defaults(run="murmuration.cli.commands:set_")

    ls = sub.add_parser("ls", help="list instances and their state")
    ls.add_argument("--json", action="store_true", help="print JSON for programs")
    ls.set_defaults(run="murmuration.cli.commands:ls")

    start = sub.add_parser("start", help="start an instance in the background and print its URL")
    start.add_argument("name", metavar="NAME")
    start.set_defaults(run="murmuration.cli.commands:start")

    stop = sub.add_parser("stop", help="stop an instance (gracefully, then by force)")
    stop.add_argument("name", metavar="NAME")
    stop.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds before force (default 10)")
    stop.set_defaults(run="murmuration.cli.commands:stop")

    url = sub.add_parser("url", help="print an instance's dashboard URL")
    url.add_argument("name", metavar="NAME")
    which = url.add_mutually_exclusive_group()
    which.add_argument("--login", action="store_true", help="a one-time sign-in link instead")
    which.add_argument("--sessions", action="store_true", help="how many browsers are signed in, and their last use")
    which.add_argument(
        "--revoke", action="store_true", help="sign every browser out of the dashboard (open pages are disconnected)"
    )
    url.set_defaults(run="murmuration.cli.commands:url")

    rm = sub.add_parser("rm", help="delete a stopped instance and its data")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(run="murmuration.cli.commands:rm")

    imports = sub.add_parser("import-knowledge", help="import an original Murmuration .knowledge/ folder")
    imports.add_argument("path", metavar="PATH")
    imports.add_argument("--instance", metavar="NAME", required=True)
    imports.set_defaults(run="murmuration.cli.knowledge:import_knowledge")

    exports = sub.add_parser("export-knowledge", help="write issues and milestone as a .knowledge/ folder")
    exports.add_argument("path", metavar="PATH")
    exports.add_argument("--instance", metavar="NAME", required=True)
    exports.set_defaults(run="murmuration.cli.knowledge:export_knowledge")

    # Its help lists the operations of the table, which is built only when `call` runs (cli/call.py).
    call = sub.add_parser(
        "call", help="run any agent operation on an instance (`murmuration call --help` lists them)", add_help=False
    )
    call.add_argument("operation", metavar="NAME", nargs="?")
    # key=value words, and the options given after NAME: cli/call.py reads them, in any order.
    call.add_argument("words", nargs=argparse.REMAINDER)
    call.add_argument("--params", metavar="JSON")
    call.add_argument("--instance", metavar="NAME")
    call.add_argument("-h", "--help", action="store_true")
    call.set_defaults(run="murmuration.cli.call:call")

    mcp = sub.add_parser("mcp", help="stdio MCP server for agents (default: this project's instance)")
    mcp_where = mcp.add_mutually_exclusive_group()
    mcp_where.add_argument("--instance", metavar="NAME", help="an existing instance by name or id")
    mcp_where.add_argument(
        "--data-dir", metavar="PATH", help="a data folder anywhere (default: <git root, else here>/.murmuration)"
    )
    mcp.add_argument(
        "--agent",
        metavar="NAME",
        help="the agent's name on the instance (default: $MURMURATION_AGENT, else the MCP client's own name)",
    )
    mcp.set_defaults(run="murmuration.mcp_bridge.commands:mcp")

    mcp_config = sub.add_parser("mcp-config", help="print what wires an agent's MCP client to an instance")
    mcp_config.add_argument("name", metavar="NAME")
    mcp_config.add_argument(
        "--client", choices=MCP_CLIENTS, default=DEFAULT_MCP_CLIENT, help=f"default: {DEFAULT_MCP_CLIENT}"
    )
    mcp_config.set_defaults(run="murmuration.mcp_bridge.commands:mcp_config")

    tray = sub.add_parser("tray", help="the desktop tray app (also: `murmuration` with no command)")
    tray.add_argument("--open", metavar="NAME", help="open this instance's dashboard in the tray's window")
    tray.set_defaults(run="murmuration.tray.app:main")  # imported only here: no other command loads Qt

    # The watchdog each server starts to end its process groups if the server dies (core/reaper.py).
    reap = sub.add_parser("_reap", help=argparse.SUPPRESS)
    reap.set_defaults(run="murmuration.cli.main:reap")
    return parser


def seconds(text: str) -> float:
    """A non-negative number of seconds, for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def reap(args: argparse.Namespace) -> int:
    from murmuration.core import reaper

    reaper.run(sys.stdin)
    return EXIT_OK


def run_command(handler: str, args: argparse.Namespace) -> int:
    """Import the module of `handler` ("module:function") only now, so each command loads only what it uses."""
    module, _, function = handler.partition(":")
    return int(getattr(importlib.import_module(module), function)(args))


def tolerant_stdio() -> None:
    """Never fail to print because the console's encoding lacks a character (cp1252 on Windows, ASCII under LANG=C).

    The character shows as "?" instead. Programs that read us get JSON, which is ASCII, and the MCP bridge writes its
    protocol as UTF-8 through its own wrapper of the byte stream, so neither can lose anything here.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_stdio()
    login_path.adopt()  # macOS, started from Finder or a login item: the user's PATH, for the instances' processes
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        if args.command is not None:
            parser.error("--self-test takes no command")
        args.run = "murmuration.selftest:main"  # imported only here: the self-test loads Qt
    elif args.command is None:
        args = parser.parse_args(["tray"])  # `murmuration` alone is the tray
    try:
        return int(run_command(args.run, args))
    except CommandError as exc:
        print(f"murmuration: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `murmuration ls | head`: the reader left, which is no error of ours
        sys.stderr.close()
        return EXIT_OK
