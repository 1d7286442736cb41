"""A hostile `.knowledge` folder (core/knowledge_folder.py, core/plain_folder.py): links, FIFOs, devices, huge files.

Each folder here is what a cloned repository or a downloaded archive could hold. An import reads none of it
and says so per file; an export never writes through a link and never outside its folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from murmuration.core.errors import Invalid
from murmuration.core.knowledge_folder import MAX_FILE, export_folder, import_folder
from murmuration.core.plain_folder import NotPlain, PlainFolder
from tests.core.test_knowledge_folder import FIXTURE, HEADER, knowledge_base, snapshot, tree, write_issue

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX"),
    # On code that opens a FIFO this would block for ever: fail instead.
    pytest.mark.timeout(60),
]


def issue_text(number: int, title: str) -> str:
    return HEADER.format(id=f"ISSUE_{number}") + f"---\n\n# {title}\n\nBody.\n"


def hostile_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A board whose every entry is an attack, and the outside folder its links point into."""
    outside = tmp_path / "outside"
    write_issue(outside, "open", "ISSUE_9.md", issue_text(9, "Read through a link to a file outside"))
    write_issue(outside, "column", "ISSUE_8.md", issue_text(8, "Read through a linked column"))
    (outside / "GOAL.md").write_text("---\ntitle: A goal from outside\n---\n\nNot ours.\n")
    board = tmp_path / "board"
    (board / "open").mkdir(parents=True)
    os.mkfifo(board / "open" / "ISSUE_1.md")
    (board / "open" / "ISSUE_2.md").symlink_to("/dev/zero")
    (board / "open" / "ISSUE_3.md").symlink_to(outside / "open" / "ISSUE_9.md")
    big = issue_text(4, "Fifty megabytes") + "x" * (50 << 20)
    (board / "open" / "ISSUE_4.md").write_text(big)
    (board / "open" / "ISSUE_5.md").symlink_to("ISSUE_6.md")  # a link inside the folder is not followed either
    write_issue(board, "archived", "ISSUE_6.md", issue_text(6, "The one plain file"))
    (board / "in-progress").symlink_to(outside / "column", target_is_directory=True)
    (board / "GOAL.md").symlink_to(outside / "GOAL.md")
    return board, outside


def test_each_hostile_entry_is_skipped_with_a_reason_and_only_the_plain_file_imported(tmp_path: Path) -> None:
    board, _ = hostile_folder(tmp_path)
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, board)
        state = snapshot(kb)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {
        "open/ISSUE_1.md": "it is a FIFO (named pipe), not a regular file",
        "open/ISSUE_2.md": "it is a symbolic link, not a regular file",
        "open/ISSUE_3.md": "it is a symbolic link, not a regular file",
        "open/ISSUE_4.md": f"it is larger than {MAX_FILE >> 20} MiB, the most an imported file may be",
        "open/ISSUE_5.md": "it is a symbolic link, not a regular file",
        "in-progress/": "it is a symbolic link, not a folder",
        "GOAL.md": "it is a symbolic link, not a regular file",
    }
    assert report.added == ["ISSUE_6"]
    assert list(state["issues"]) == ["ISSUE_6"]
    assert state["milestone"] is None


def test_a_folder_of_only_hostile_entries_writes_nothing(tmp_path: Path) -> None:
    board, _ = hostile_folder(tmp_path)
    (board / "archived" / "ISSUE_6.md").unlink()
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, board)
        assert snapshot(kb) == {"issues": {}, "milestone": None, "milestone_extra": {}}
    assert report.added == []
    assert report.milestone == "skipped"
    assert len(report.skipped) == 7


def test_a_device_is_refused_without_being_opened(tmp_path: Path) -> None:
    board = tmp_path / "board"
    (board / "open").mkdir(parents=True)
    os.mknod(board / "open" / "ISSUE_1.md", 0o600 | 0o020000, os.makedev(1, 5))  # a character device: /dev/zero
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, board)
    assert [(s.path, s.reason) for s in report.skipped] == [("open/ISSUE_1.md", "it is a device, not a regular file")]


def test_a_file_just_under_the_cap_is_read_and_one_byte_over_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "sizes"
    folder.mkdir()
    (folder / "at").write_bytes(b"x" * MAX_FILE)
    (folder / "over").write_bytes(b"x" * (MAX_FILE + 1))
    with PlainFolder.open(folder) as plain:
        assert len(plain.read("at", MAX_FILE)) == MAX_FILE
        with pytest.raises(NotPlain, match="larger than 1 MiB"):
            plain.read("over", MAX_FILE)


def test_no_name_from_data_reaches_outside_the_folder(tmp_path: Path) -> None:
    with PlainFolder.open(tmp_path) as plain:
        for name in ("../escape", "..", "a/b", "", "nul\0"):
            with pytest.raises(ValueError, match="not a plain file name"):
                plain.write(name, b"x")
    assert list(tmp_path.parent.glob("escape")) == []


# --- export ---------------------------------------------------------------------------------------------------


def test_export_into_a_linked_column_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "open").symlink_to(elsewhere, target_is_directory=True)
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        with pytest.raises(Invalid, match=r"open it is a symbolic link, not a folder; an export writes"):
            export_folder(kb, out)
    assert list(elsewhere.iterdir()) == []
    assert tree(out) == {}


def test_export_replaces_a_link_where_a_file_goes_and_never_writes_through_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not touch\n")
    out = tmp_path / "out"
    (out / "open").mkdir(parents=True)
    (out / "open" / "ISSUE_3.md").symlink_to(secret)
    (out / "GOAL.md").symlink_to(secret)
    (out / "completed").mkdir()
    (out / "completed" / "ISSUE_3.md").symlink_to(secret)  # where the moved card was: a link, not a leftover
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        result = export_folder(kb, out)
    assert secret.read_text() == "do not touch\n"
    assert not (out / "open" / "ISSUE_3.md").is_symlink()
    assert "Build the web UI HUD" in (out / "open" / "ISSUE_3.md").read_text()
    assert not (out / "GOAL.md").is_symlink()
    assert (out / "completed" / "ISSUE_3.md").is_symlink(), "a link that is not a file of ours was removed"
    assert "completed/ISSUE_3.md" not in result["removed"]


def test_export_writes_only_inside_its_folder_whatever_the_titles(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    with knowledge_base(tmp_path / "state.db") as kb:
        for title in ("../../escape", "/etc/passwd", "..\\..\\escape", "a/b/c"):
            kb.issues.record(title)
        export_folder(kb, out)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() and p.name != "state.db")
    assert [w for w in written if not w.startswith("state.db")] == [f"deep/out/open/ISSUE_{n}.md" for n in (1, 2, 3, 4)]
