"""`murmuration call NAME …`: any agent operation of the table, from a shell, on a running instance.

Parameters come as one JSON object (`--params '{"title": "Fix it"}'`) or as `key=value` words, where a value
is taken as text when the parameter is text and read as JSON otherwise (`priority=7`, `tags='["a","b"]'`,
`immediate=true`). The help, the names and the checks all come from the operation table, so this command
cannot drift from the JSON-RPC methods and the MCP tools.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from murmuration.cli.commands import find
from murmuration.cli.errors import CommandError
from murmuration.client import InstanceUnavailable, RpcError
from murmuration.datafolder import DataFolder, DataFolderError
from murmuration.operations import Operation, OperationError, OperationTable, build_table
from murmuration.status import State, probe

CALL_TIMEOUT = 5.0
# How a value of each JSON type is written as a key=value word, for the sentence that refuses a bad one.
EXAMPLES = {
    "integer": "7",
    "number": "0.5",
    "boolean": "true",
    "array": """'["a", "b"]'""",
    "object": """'{"k": "v"}'""",
}


def agent_operations(table: OperationTable) -> dict[str, Operation]:
    """The operations an agent may call, by name, in table order (the same ones the MCP bridge offers)."""
    return {operation.name: operation for operation in table if operation.for_agents}


SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.\s")


def first_sentence(text: str) -> str:
    end = SENTENCE_END.search(text)
    return text[: end.start() + 1] if end else text


def listing(operations: dict[str, Operation]) -> str:
    """`murmuration call --help`: usage, then every operation with the first sentence of what it does."""
    width = max(len(name) for name in operations)
    lines = [
        "usage: murmuration call NAME [--params JSON | key=value …] [--instance NAME]",
        "",
        "Run one operation of an instance and print its JSON result. `murmuration call NAME --help` describes",
        "NAME's parameters. Without --instance: this project's instance (the one `murmuration mcp` serves here).",
        "",
        "operations:",
    ]
    for name, operation in operations.items():
        wrapped = textwrap.wrap(first_sentence(operation.description), 116 - width)
        lines += [f"  {name.ljust(width)}  {wrapped[0]}", *(f"  {'':{width}}  {more}" for more in wrapped[1:])]
    return "\n".join(lines)


def describe(operation: Operation) -> str:
    """`murmuration call NAME --help`: what it does, and each parameter with its type and meaning."""
    properties: dict[str, Any] = operation.params.get("properties", {})
    required = set(operation.params.get("required", []))
    lines = [f"usage: murmuration call {operation.name} [--params JSON | key=value …] [--instance NAME]", ""]
    lines += textwrap.wrap(operation.description, 116)
    lines += ["", "parameters:" if properties else "parameters: none"]
    for key, schema in properties.items():
        kind = type_name(schema) + (", required" if key in required else "")
        lines.append(f"  {key} ({kind})")
        about = schema.get("description", "")
        if "enum" in schema:
            about += f" One of: {', '.join(map(str, schema['enum']))}."
        lines += [f"      {line}" for line in textwrap.wrap(about.strip(), 110)]
    return "\n".join(lines)


def type_name(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    if kinds is None and "anyOf" in schema:
        kinds = [type_name(option) for option in schema["anyOf"]]
    if isinstance(kinds, list):
        return " or ".join(str(k) for k in kinds)
    return str(kinds or "any")


def admits_text(schema: dict[str, Any]) -> bool:
    """True when text is one of the values `schema` takes (a command may be a string or a list)."""
    options = schema.get("anyOf", []) + schema.get("oneOf", [])
    kinds = schema.get("type", [])
    return "string" in (kinds if isinstance(kinds, list) else [kinds]) or any(admits_text(o) for o in options)


def takes_text(schema: dict[str, Any]) -> bool:
    """True when `schema` accepts text and nothing that JSON would read differently (so `key=7` stays "7")."""
    kinds = schema.get("type")
    if kinds is None:
        return False
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "string" in kinds and not set(kinds) - {"string", "null"}


def params_from(operation: Operation, raw_json: str | None, pairs: list[str]) -> dict[str, Any]:
    """The call's parameters from `--params JSON` or `key=value` words (not both), before the schema check."""
    if raw_json is not None and pairs:
        raise CommandError("Give the parameters either as --params JSON or as key=value words, not both.")
    if raw_json is not None:
        try:
            params = json.loads(raw_json)
        except ValueError as exc:
            raise CommandError(f"--params is not valid JSON ({exc}); give one JSON object, e.g. '{{}}'.") from None
        if not isinstance(params, dict):
            raise CommandError('--params must be a JSON object, e.g. \'{"title": "Fix it"}\'.')
        return params
    properties: dict[str, Any] = operation.params.get("properties", {})
    params = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise CommandError(f"{pair!r} is not key=value; `murmuration call {operation.name} --help` lists them.")
        if key in params:
            raise CommandError(f"{key!r} is given twice; give each parameter once.")
        schema = properties.get(key, {})
        if takes_text(schema):
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            if admits_text(schema):  # `command=ls`: text where text is one of the choices
                params[key] = value
                continue
            if schema:  # a parameter that is not text wants JSON; an unknown key is named by the schema check
                example = EXAMPLES.get(type_name(schema), "7")
                kind = type_name(schema)
                raise CommandError(f"{key}={value} is not {kind} JSON; write it like {key}={example}.") from None
            params[key] = value
    return params


def target(instance: str | None) -> DataFolder:
    """The data folder to call: the named instance, else this project's own (it must exist already)."""
    if instance is not None:
        return find(instance)
    from murmuration import registry
    from murmuration.mcp_bridge.project import project_root

    folder = registry.project_folder(project_root(Path.cwd()))
    if not folder.exists():
        raise CommandError(
            "This folder has no project instance yet; give --instance NAME (`murmuration ls` lists them)."
        )
    return folder


async def run(folder: DataFolder, name: str, params: dict[str, Any]) -> Any:
    from murmuration.client import InstanceClient

    async with await InstanceClient.for_folder(folder, timeout=CALL_TIMEOUT) as client:
        return await client.call(name, params)


def after_name(args: argparse.Namespace) -> argparse.Namespace:
    """The key=value words and the options given after NAME, merged with those given before it."""
    from murmuration.cli.main import Parser

    parser = Parser(prog="murmuration call NAME", add_help=False)
    parser.add_argument("pairs", nargs="*")
    parser.add_argument("--params", metavar="JSON", action="append", default=[])
    parser.add_argument("--instance", metavar="NAME", action="append", default=[])
    parser.add_argument("-h", "--help", action="store_true")
    later = parser.parse_intermixed_args(args.words)
    given: dict[str, str | None] = {}
    for option in ("params", "instance"):
        values = [v for v in (getattr(args, option), *getattr(later, option)) if v is not None]
        if len(values) > 1:
            raise CommandError(f"--{option} is given twice; give it once.")
        given[option] = values[0] if values else None
    return argparse.Namespace(operation=args.operation, pairs=later.pairs, help=args.help or later.help, **given)


def call(args: argparse.Namespace) -> int:
    args = after_name(args)
    operations = agent_operations(build_table())
    if args.operation is None:
        print(listing(operations))
        return 0
    operation = operations.get(args.operation)
    if operation is None:
        raise CommandError(f"No operation is named {args.operation!r}; `murmuration call --help` lists them.")
    if args.help:
        print(describe(operation))
        return 0
    params = params_from(operation, args.params, args.pairs)
    try:
        operation.check(params)
    except OperationError as exc:
        hint = f"`murmuration call {operation.name} --help` says more"
        raise CommandError(f"{exc.message.rstrip('.')}; {hint}.") from None
    folder = target(args.instance)
    status = probe(folder)
    if status.state is not State.RUNNING:
        try:
            info = folder.read_info()
        except DataFolderError as exc:
            raise CommandError(str(exc)) from None
        raise CommandError(f"{info.name} is not running; start it with `murmuration start {info.id}`.")
    try:
        result = asyncio.run(run(folder, operation.name, params))
    except RpcError as exc:
        raise CommandError(exc.message) from None
    except (InstanceUnavailable, OSError, TimeoutError) as exc:
        raise CommandError(f"The instance did not answer ({exc}); check it with `murmuration ls`.") from None
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0
