"""A process's output (core/process_log.py): lines cut from a byte stream, kept whole on disk with stream tags and
timestamps, the last ones in memory, and read back from the end of the file without reading all of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from murmuration.core.log_reader import tail as tail_file
from murmuration.core.process_log import MAX_LINE, RECENT, LineSplitter, LogLine, ProcessLog, parse_line
from murmuration.core.processes import READ_CHUNK

LINE = re.compile(rb"^\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err|sys) (.*)$", re.DOTALL)


def split_all(data: bytes, chunk: int) -> list[bytes]:
    """Every line LineSplitter makes of `data` fed in pieces of `chunk` bytes, the unfinished rest included."""
    splitter = LineSplitter()
    lines: list[bytes] = []
    for start in range(0, len(data), chunk):
        lines += splitter.feed(data[start : start + chunk])
    return lines + splitter.finish()


def file_lines(path: Path) -> list[tuple[bytes, bytes]]:
    """(tag, text) of every line of a log file, checking each line's shape."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    out: list[tuple[bytes, bytes]] = []
    for line in raw[:-1].split(b"\n"):
        match = LINE.match(line)
        assert match is not None, line[:200]
        out.append((match.group(1), match.group(2)))
    return out


# --- LineSplitter ---------------------------------------------------------------------------------------------


def test_splitter_holds_back_an_unfinished_line_until_it_ends() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == [b"one"]
    assert splitter.feed(b"o") == []
    assert splitter.feed(b"\nthree\n") == [b"two", b"three"]
    assert splitter.finish() == []


def test_splitter_keeps_a_last_line_without_newline() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"first\nno newline at the end") == [b"first"]
    assert splitter.finish() == [b"no newline at the end"]
    assert splitter.finish() == []


def test_splitter_keeps_blank_lines_and_bytes_as_written() -> None:
    data = b"\n\n\x1b[31mred\x1b[0m\r\n\xff\xfe not utf-8\n\tx \n"
    assert split_all(data, 3) == [b"", b"", b"\x1b[31mred\x1b[0m\r", b"\xff\xfe not utf-8", b"\tx "]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536, 1 << 20])
def test_splitter_gives_the_same_lines_however_the_stream_is_cut(chunk: int) -> None:
    data = b"".join(b"line %d %s\n" % (i, b"x" * (i % 50)) for i in range(3000)) + b"tail"
    expected = data.split(b"\n")
    assert split_all(data, chunk) == expected


LONG = bytes(range(256)).replace(b"\n", b"N") * 800  # 204,800 bytes, no newline


@pytest.mark.parametrize("chunk", [1000, 4096, READ_CHUNK, 1 << 20])
def test_a_very_long_line_loses_nothing(chunk: int) -> None:
    data = b"before\n" + LONG + b"\nafter\n"
    lines = split_all(data, chunk)
    assert lines[0] == b"before"
    assert lines[-1] == b"after"
    assert b"".join(lines[1:-1]) == LONG


@pytest.mark.parametrize("chunk", [1000, 4096, READ_CHUNK, 1 << 20])
def test_a_very_long_line_is_cut_into_pieces_of_at_most_max_line(chunk: int) -> None:
    """MAX_LINE bounds a line's size in memory and in events, however the bytes arrive (READ_CHUNK: as the
    process manager reads a pipe)."""
    lines = split_all(b"before\n" + LONG + b"\nafter\n", chunk)
    sizes = [len(line) for line in lines]
    assert max(sizes) <= MAX_LINE, f"pieces of {sizes} bytes (MAX_LINE = {MAX_LINE}), fed in chunks of {chunk}"


# --- ProcessLog -------------------------------------------------------------------------------------------------


def test_every_line_goes_to_the_file_stream_tagged_and_timestamped(tmp_path: Path) -> None:
    log = ProcessLog(tmp_path / "logs" / "p.log")
    try:
        log.system("attempt 1: demo")
        stamp = log.write("stdout", [b"one", b"", b"\x1b[1mbold\x1b[0m"])
        log.write("stderr", [b"oops"])
        log.write("stdout", [b"two"])
    finally:
        log.close()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert file_lines(tmp_path / "logs" / "p.log") == [
        (b"sys", b"attempt 1: demo"),
        (b"out", b"one"),
        (b"out", b""),
        (b"out", b"\x1b[1mbold\x1b[0m"),
        (b"err", b"oops"),
        (b"out", b"two"),
    ]


def test_a_second_attempt_appends_to_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    for attempt in (1, 2):
        log = ProcessLog(path)
        log.system(f"attempt {attempt}")
        log.write("stdout", [b"out %d" % attempt])
        log.close()
    assert [text for _, text in file_lines(path)] == [b"attempt 1", b"out 1", b"attempt 2", b"out 2"]


def test_memory_keeps_only_the_most_recent_lines(tmp_path: Path) -> None:
    log = ProcessLog(tmp_path / "p.log")
    try:
        log.write("stdout", [b"%d" % i for i in range(RECENT + 500)])
        assert len(log.recent) == RECENT
        assert log.recent[0].text == "500"
    finally:
        log.close()


def test_tail_recent_gives_the_last_lines_of_a_stream(tmp_path: Path) -> None:
    log = ProcessLog(tmp_path / "p.log")
    try:
        for i in range(10):
            log.write("stdout", [b"out %d" % i])
            log.write("stderr", [b"err %d" % i])
        recent = log.tail_recent(3, None)
        assert recent is not None
        assert [(line.stream, line.text) for line in recent] == [
            ("stderr", "err 8"),
            ("stdout", "out 9"),
            ("stderr", "err 9"),
        ]
        only_err = log.tail_recent(2, "stderr")
        assert only_err is not None
        assert [line.text for line in only_err] == ["err 8", "err 9"]
        everything = log.tail_recent(500, "stdout")
        assert everything is not None  # memory is not full: it holds every line there is
        assert [line.text for line in everything] == [f"out {i}" for i in range(10)]
        assert log.tail_recent(5, "system") == []
    finally:
        log.close()


def test_tail_recent_says_when_memory_does_not_reach_back_far_enough(tmp_path: Path) -> None:
    log = ProcessLog(tmp_path / "p.log")
    try:
        log.write("stderr", [b"the only error"])
        log.write("stdout", [b"%d" % i for i in range(RECENT)])  # pushes the error out of memory
        assert log.tail_recent(1, "stderr") is None
        assert log.tail_recent(RECENT + 1, None) is None
        full = log.tail_recent(RECENT, None)
        assert full is not None
        assert len(full) == RECENT
    finally:
        log.close()
    assert [line.text for line in tail_file(tmp_path / "p.log", 1, "stderr")] == ["the only error"]


def test_tail_recent_decodes_for_display_without_failing(tmp_path: Path) -> None:
    log = ProcessLog(tmp_path / "p.log")
    try:
        log.write("stdout", [b"\x1b[32mgreen\x1b[0m \xff"])
        recent = log.tail_recent(1, None)
    finally:
        log.close()
    assert recent is not None
    assert [(line.stream, line.text) for line in recent] == [("stdout", "\x1b[32mgreen\x1b[0m \ufffd")]


# --- tail_file ----------------------------------------------------------------------------------------------------


def write_log(path: Path, entries: list[tuple[str, bytes]]) -> None:
    log = ProcessLog(path)
    try:
        for stream, text in entries:
            log.write(stream, [text])
    finally:
        log.close()


MIXED = [("stdout" if i % 3 else "stderr", b"line %d %s" % (i, b"=" * (i % 37))) for i in range(400)] + [
    ("system", b"exited with code 0")
]


@pytest.mark.parametrize("block", [1, 16, 61, 100, 4096, 1 << 16])
@pytest.mark.parametrize("stream", [None, "stdout", "stderr", "system"])
def test_tail_file_reads_backwards_across_block_boundaries(tmp_path: Path, block: int, stream: str | None) -> None:
    path = tmp_path / "p.log"
    write_log(path, MIXED)
    wanted = [text.decode() for s, text in MIXED if stream is None or s == stream]
    for count in (1, 2, 7, 133, len(wanted), len(wanted) + 50):
        lines = tail_file(path, count, stream, block=block)
        assert [line.text for line in lines] == wanted[-count:], (count, block, stream)
        assert all(stream is None or line.stream == stream for line in lines)


def test_tail_file_handles_lines_longer_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    entries = [("stdout", b"a" * 5000), ("stderr", b"short"), ("stdout", b"b" * 70_000)]
    write_log(path, entries)
    lines = tail_file(path, 3, None, block=1000)
    assert [(line.stream, len(line.text)) for line in lines] == [("stdout", 5000), ("stderr", 5), ("stdout", 70_000)]


def test_tail_file_of_a_missing_or_empty_file_is_empty(tmp_path: Path) -> None:
    assert tail_file(tmp_path / "never-written.log", 10) == []
    (tmp_path / "empty.log").write_bytes(b"")
    assert tail_file(tmp_path / "empty.log", 10) == []


def test_tail_file_skips_lines_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    path.write_bytes(
        b"2024-01-01T00:00:00.000Z out first\n"
        b"garbage without tags\n"
        b"\n"
        b"2024-01-01T00:00:00.001Z bad not-a-tag\n"
        b"2024-01-01T00:00:00.002Z err second\n"
    )
    assert [(line.stream, line.text) for line in tail_file(path, 10)] == [("stdout", "first"), ("stderr", "second")]


def test_parse_line_keeps_spaces_and_ansi_codes_in_the_text() -> None:
    line = parse_line(b"2024-01-01T00:00:00.000Z out   two  spaces \x1b[0m")
    assert line == LogLine(0, "2024-01-01T00:00:00.000Z", "stdout", "  two  spaces \x1b[0m")
    assert parse_line(b"2024-01-01T00:00:00.000Z sys ") == LogLine(0, "2024-01-01T00:00:00.000Z", "system", "")
    assert parse_line(b"17 2024-01-01T00:00:00.000Z err x") == LogLine(17, "2024-01-01T00:00:00.000Z", "stderr", "x")
