"""Reading numbered logs (core/log_reader.py) against the plain answer: every cursor, time, stream and pattern gives
what a full scan would, across the rotation that caps the log, without reading the whole file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from murmuration.core.line_pattern import LinePattern
from murmuration.core.log_reader import LogQuery, read
from murmuration.core.process_log import LogLine, ProcessLog, log_files


def written(path: Path, count: int, max_bytes: int = 1 << 30) -> list[LogLine]:
    """A log of `count` lines in mixed streams; the lines as a full scan of the files sees them."""
    log = ProcessLog(path, max_bytes)
    try:
        for i in range(count):
            stream = "stderr" if i % 7 == 0 else "stdout"
            log.write(stream, [b"line %d %s" % (i, b"x" * (i % 13))])
    finally:
        log.close()
    lines = []
    for file in log_files(path):
        for raw in file.read_bytes().splitlines():
            number, stamp, tag, text = raw.split(b" ", 3)
            stream = {b"out": "stdout", b"err": "stderr", b"sys": "system"}[tag]
            lines.append(LogLine(int(number), stamp.decode(), stream, text.decode()))
    return lines


@pytest.mark.parametrize("max_bytes", [1 << 30, 40_000])
def test_every_cursor_gives_exactly_the_lines_after_it(tmp_path: Path, max_bytes: int) -> None:
    path = tmp_path / "p.log"
    lines = written(path, 5000, max_bytes)
    first = lines[0].n
    for after in [0, 1, first - 1, first, first + 1, 777, 2500, 4998, 4999, 5000, 6000]:
        for stream in (None, "stderr"):
            page = read(path, LogQuery(count=300, after=after, stream=stream))
            expected = [line for line in lines if line.n > after and stream in (None, line.stream)][:300]
            assert page.lines == expected, (after, stream)
            assert page.next >= after
            rest = read(path, LogQuery(count=10_000, after=page.next, stream=stream))
            assert [line.n for line in page.lines + rest.lines] == [
                line.n for line in lines if line.n > after and stream in (None, line.stream)
            ]


def test_the_cap_keeps_the_log_under_its_size_and_says_where_it_cut(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    lines = written(path, 20_000, max_bytes=100_000)
    assert sum(file.stat().st_size for file in log_files(path)) <= 100_000
    page = read(path, LogQuery(count=5))
    assert page.first == lines[0].n > 1
    assert [line.n for line in page.lines] == list(range(19_996, 20_001))
    assert page.next == 20_000
    assert read(path, LogQuery(count=5, after=0)).lines == lines[:5]  # a cursor from before the cut starts at it


def test_since_finds_the_first_line_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    lines = written(path, 3000)
    middle = lines[1500].time
    page = read(path, LogQuery(count=10_000, since=middle))
    assert page.lines == [line for line in lines if line.time >= middle]


def test_grep_from_the_end_gives_the_last_matches_with_context(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    lines = written(path, 3000)
    page = read(path, LogQuery(count=3, pattern=LinePattern(r"^line \d+0 ", "grep"), context=1))
    matching = [line for line in lines if re.match(r"^line \d+0 ", line.text)][-3:]
    assert sorted(page.matches) == [line.n for line in matching]
    shown = {line.n for line in page.lines}
    for line in matching:
        assert {line.n - 1, line.n, line.n + 1} & {other.n for other in lines} <= shown


def test_a_search_stops_at_its_budget_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    written(path, 20_000)
    page = read(path, LogQuery(count=10, after=0, pattern=LinePattern("never there", "grep")), budget=100_000)
    assert page.lines == []
    assert page.more is True
    assert 0 < page.next < 20_000  # where to go on from


def test_a_big_log_is_read_from_the_end_and_by_cursor(tmp_path: Path) -> None:
    """55 MB of log: the tail and a cursor in its middle (bisection) give the right lines (bench/logs.py times it)."""
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"%d 2026-01-01T00:00:00.000Z out %s\n" % (n, b"y" * 80) for n in range(1, 500_001)))
    page = read(path, LogQuery(count=3))
    assert [line.n for line in page.lines] == [499_998, 499_999, 500_000]
    assert page.next == 500_000
    middle = read(path, LogQuery(count=2, after=250_000))
    assert [line.n for line in middle.lines] == [250_001, 250_002]
    assert read(path, LogQuery(count=2, after=500_000)).lines == []
