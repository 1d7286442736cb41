"""The sub-commands that manage instances: each returns an exit code or raises CommandError."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from murmuration import registry
from murmuration.cli.errors import CommandError
from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.control import StartFailed, login_url, remove_instance, start_instance, stop_instance
from murmuration.datafolder import DataFolder, DataFolderError
from murmuration.lock import FolderLocked
from murmuration.status import State, probe


def find(name: str) -> DataFolder:
    try:
        return registry.find(name)
    except registry.InstanceNotFound:
        raise CommandError(f"No instance is named {name!r}; `murmuration ls` lists them.") from None


def new(args: argparse.Namespace) -> int:
    try:
        cwd = registry.check_cwd(Path(args.cwd) if args.cwd else Path.cwd())
        folder = registry.create(args.name, cwd)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except registry.InstanceExists:
        raise CommandError(f"An instance named {args.name.strip()!r} already exists.") from None
    info = folder.read_info()
    print(f"Created {info.name!r} (id {info.id}) in {folder.path}; start it with `murmuration start {info.id}`.")
    return 0


def set_(args: argparse.Namespace) -> int:
    """`murmuration set NAME --cwd PATH`: change what `new` chose."""
    folder = find(args.name)
    if args.cwd is None:
        raise CommandError("Nothing to change; give --cwd PATH.")
    try:
        cwd = registry.set_cwd(folder, Path(args.cwd))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except (DataFolderError, OSError) as exc:
        raise CommandError(f"{folder.instance_file} could not be changed: {exc}") from None
    running = probe(folder).state is State.RUNNING
    later = " once it restarts" if running else ""
    print(f"Processes of {args.name!r} now run in {cwd}{later}.")
    return 0


def describe(folder: DataFolder) -> dict[str, Any]:
    """One instance as `ls` shows it."""
    status = probe(folder)
    try:
        info = folder.read_info()
        name, instance_id = info.name, info.id
    except DataFolderError:
        name, instance_id = "?", folder.path.name
    running = status.state is State.RUNNING and status.runtime is not None
    runtime = status.runtime if running else None
    return {
        "id": instance_id,
        "name": name,
        "status": status.state.value,
        "pid": runtime.pid if runtime else None,
        "port": runtime.port if runtime else None,
        "url": runtime.url if runtime else None,
        "data_dir": str(folder.path),
    }


def ls(args: argparse.Namespace) -> int:
    rows = [describe(folder) for folder in registry.managed_folders()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No instances yet; create one with `murmuration new NAME`.")
        return 0
    columns = ("name", "id", "status", "pid", "port", "url", "data_dir")
    table = [[str(row[c] if row[c] is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    for line in [[c.upper() for c in columns], *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    return 0


def start(args: argparse.Namespace) -> int:
    folder = find(args.name)
    try:
        started = start_instance(folder)
    except StartFailed as exc:
        raise CommandError(str(exc), exc.exit_code or 1) from None
    ready = started.ready
    note = " (already running)" if started.already_running else ""
    print(f"{ready['name']} is running at {ready['url']}{note}")
    return 0


def stop(args: argparse.Namespace) -> int:
    folder = find(args.name)
    if stop_instance(folder, timeout=args.timeout):
        print(f"Stopped {args.name}.")
    else:
        print(f"{args.name} was not running.")
    return 0


def url(args: argparse.Namespace) -> int:
    folder = find(args.name)
    status = probe(folder)
    if status.state is not State.RUNNING or status.runtime is None:
        raise CommandError(f"{args.name} is not running; start it with `murmuration start {args.name}`.")
    if args.sessions:
        try:
            listed = asyncio.run(_call(folder, "list_sessions"))
        except (InstanceUnavailable, RpcError) as exc:
            raise CommandError(f"Could not list the browser sessions of {args.name}: {exc}") from None
        print(
            f"{_sessions(listed['count'])} signed in to {args.name}"
            + (f"; last use {listed['last_used']}." if listed["last_used"] else ".")
        )
        for each in listed["sessions"]:
            print(f"  signed in {each['created']}, last use {each['last_used']}")
        return 0
    if args.revoke:
        try:
            revoked = asyncio.run(_call(folder, "revoke_sessions"))["revoked"]
        except (InstanceUnavailable, RpcError) as exc:
            raise CommandError(f"Could not sign the browsers out of {args.name}: {exc}") from None
        print(f"Signed out {_sessions(revoked)} of {args.name}; open dashboards need a new sign-in link.")
        return 0
    if not args.login:
        print(status.runtime.url)
        return 0
    try:
        link = asyncio.run(login_url(status.runtime))
    except (InstanceUnavailable, RpcError, OSError) as exc:
        raise CommandError(f"Could not get a sign-in code from {args.name}: {exc}") from None
    print(link)
    return 0


def _sessions(count: int) -> str:
    return "1 browser session" if count == 1 else f"{count} browser sessions"


async def _call(folder: DataFolder, method: str, params: dict[str, Any] | None = None) -> Any:
    async with await InstanceClient.for_folder(folder) as client:
        return await client.call(method, params)


def rm(args: argparse.Namespace) -> int:
    folder = find(args.name)
    status = probe(folder)
    if status.state is State.RUNNING and status.runtime is not None:
        raise CommandError(
            f"{args.name} is running (pid {status.runtime.pid}); stop it first with `murmuration stop {args.name}`."
        )
    try:
        remove_instance(folder)
    except FolderLocked:
        raise CommandError(
            f"{args.name} is starting or running; stop it first with `murmuration stop {args.name}`."
        ) from None
    print(f"Removed {args.name} and its data folder {folder.path}.")
    return 0
