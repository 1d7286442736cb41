"""`import-knowledge` and `export-knowledge`: move an issue board between an instance and a `.knowledge/` folder.

A running instance does the work itself, so its dashboard sees the change at once; on a stopped one the
same operation runs here, under its data-folder lock, so no server can start half-way through.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from murmuration.cli.commands import find
from murmuration.cli.errors import CommandError
from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.core.store import StoreError
from murmuration.datafolder import DataFolder, DataFolderError
from murmuration.lock import FolderLocked
from murmuration.operations import OperationError
from murmuration.operations.offline import run_offline


def _run(folder: DataFolder, method: str, path: Path) -> dict[str, Any]:
    try:
        return asyncio.run(run_offline(folder, method, {"path": str(path)}))
    except FolderLocked:
        return _through_server(folder, method, path)
    except OperationError as exc:
        raise CommandError(exc.message) from None
    except (StoreError, DataFolderError) as exc:
        raise CommandError(str(exc)) from None
    except sqlite3.Error as exc:
        raise CommandError(f"The instance's database could not be written ({exc}); nothing was changed.") from None


def _through_server(folder: DataFolder, method: str, path: Path) -> dict[str, Any]:
    async def call() -> dict[str, Any]:
        async with await InstanceClient.for_folder(folder) as client:
            result: dict[str, Any] = await client.call(method, {"path": str(path)})
            return result

    try:
        return asyncio.run(call())
    except RpcError as exc:
        raise CommandError(exc.message) from None
    except InstanceUnavailable as exc:
        raise CommandError(f"The instance is starting or stopping; try again in a moment ({exc})") from None


def import_knowledge(args: argparse.Namespace) -> int:
    path = Path(args.path).absolute()
    if not path.is_dir():
        raise CommandError(f"{path} is not a folder; give the path of a .knowledge folder.")
    report = _run(find(args.instance), "import_knowledge", path)
    print(
        f"Imported {len(report['added'])} issue(s); {len(report['already_present'])} were already there; "
        f"milestone: {report['milestone']}."
    )
    for skipped in report["skipped"]:
        print(f"Skipped {skipped['path']}: {skipped['reason']}.")
    return 0


def export_knowledge(args: argparse.Namespace) -> int:
    path = Path(args.path).absolute()
    if path.exists() and not path.is_dir():
        raise CommandError(f"{path} is a file; give a folder to write the .knowledge layout into.")
    report = _run(find(args.instance), "export_knowledge", path)
    print(f"Wrote {len(report['written'])} file(s) to {path}; removed {len(report['removed'])} moved issue file(s).")
    return 0
