"""Whole-file writes: on Windows a target held open by another reader is replaced once the reader lets go."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from murmuration.atomicfile import REPLACE_PATIENCE, replace, write_atomic

windows_only = pytest.mark.skipif(sys.platform != "win32", reason="only Windows refuses to replace an open file")


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "runtime.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new", mode=0o644)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["runtime.json"]  # no temporary file left


@windows_only
def test_a_plain_rename_fails_while_a_reader_holds_the_target(tmp_path: Path) -> None:
    # The attack the retry answers: without it, the write fails while anyone reads.
    target, source = tmp_path / "runtime.json", tmp_path / "new.tmp"
    target.write_bytes(b"old")
    source.write_bytes(b"new")
    with open(target, "rb"), pytest.raises(PermissionError):
        os.replace(source, target)


@windows_only
def test_replace_waits_for_a_reader_to_let_go(tmp_path: Path) -> None:
    target, source = tmp_path / "runtime.json", tmp_path / "new.tmp"
    target.write_bytes(b"old")
    source.write_bytes(b"new")
    reader = open(target, "rb")  # noqa: SIM115 - closed by the timer, while replace() waits
    letting_go = threading.Timer(REPLACE_PATIENCE / 4, reader.close)
    letting_go.start()
    try:
        replace(source, target)
    finally:
        letting_go.join()
        reader.close()
    assert target.read_bytes() == b"new"


@windows_only
def test_replace_gives_up_on_a_reader_that_never_lets_go(tmp_path: Path) -> None:
    target, source = tmp_path / "runtime.json", tmp_path / "new.tmp"
    target.write_bytes(b"old")
    source.write_bytes(b"new")
    with open(target, "rb"), pytest.raises(PermissionError):
        replace(source, target)
    assert source.read_bytes() == b"new"  # nothing lost: the caller still has its data
