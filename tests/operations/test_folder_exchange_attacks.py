"""import_knowledge and export_knowledge on a running server (operations/issues.py) given a hostile folder.

The folder holds a FIFO, a link to /dev/zero, a link out of the folder and a 50 MB file: each is refused with a
sentence naming it, nothing is written, and a ping loop on another connection is answered all along — the
files are read off the event loop, and none of them can block or bloat the server.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from tests.conftest import Servers
from tests.core.test_knowledge_folder import HEADER, write_issue
from tests.pinger import PingLoop

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX"),
    pytest.mark.timeout(180),
]

MEMORY_GUARD = 3 << 30  # bytes of address space for the server: code that read /dev/zero whole fails, not the host


def issue_text(number: int, title: str) -> str:
    return HEADER.format(id=f"ISSUE_{number}") + f"---\n\n# {title}\n\nBody.\n"


def hostile_board(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    write_issue(outside, "open", "ISSUE_9.md", issue_text(9, "Read through a link out of the folder"))
    board = tmp_path / "board"
    (board / "open").mkdir(parents=True)
    os.mkfifo(board / "open" / "ISSUE_1.md")
    (board / "open" / "ISSUE_2.md").symlink_to("/dev/zero")
    (board / "open" / "ISSUE_3.md").symlink_to(outside / "open" / "ISSUE_9.md")
    (board / "open" / "ISSUE_4.md").write_text(issue_text(4, "Fifty megabytes") + "x" * (50 << 20))
    return board


async def test_a_hostile_folder_is_refused_file_by_file_while_the_server_answers(
    servers: Servers, home: Path, tmp_path: Path
) -> None:
    board = hostile_board(tmp_path)
    folder = registry.create("Importer", home)
    server = servers.start("--data-dir", str(folder.path))
    if sys.platform.startswith("linux"):
        resource.prlimit(server.proc.pid, resource.RLIMIT_AS, (MEMORY_GUARD, MEMORY_GUARD))
    runtime = folder.read_runtime()
    assert runtime is not None
    connecting = InstanceClient.connect(runtime.url, runtime.token)
    async with PingLoop(runtime.url, runtime.token) as pings, await connecting as client:
        report = await client.call("import_knowledge", {"path": str(board)})
        listed = await client.call("list_issues", {})
    pings.assert_answered(at_least=1)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "open/ISSUE_1.md": "it is a FIFO (named pipe), not a regular file",
        "open/ISSUE_2.md": "it is a symbolic link, not a regular file",
        "open/ISSUE_3.md": "it is a symbolic link, not a regular file",
        "open/ISSUE_4.md": "it is larger than 1 MiB, the most an imported file may be",
    }
    assert report["added"] == []
    assert listed["total"] == 0


async def test_export_into_a_folder_with_a_linked_column_writes_nothing_anywhere(
    servers: Servers, home: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "open").symlink_to(elsewhere, target_is_directory=True)
    folder = registry.create("Exporter", home)
    servers.start("--data-dir", str(folder.path))
    runtime = folder.read_runtime()
    assert runtime is not None
    async with await InstanceClient.connect(runtime.url, runtime.token) as client:
        await client.call("record_issue", {"title": "Stays in the database"})
        with pytest.raises(Exception, match="it is a symbolic link, not a folder"):
            await client.call("export_knowledge", {"path": str(out)})
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["open"]
