"""Reservation resources (core/resources.py): what counts as inside the working directory, and what overlaps."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from murmuration.core.errors import Invalid
from murmuration.core.resources import resource


def overlap(a: str, b: str) -> bool:
    return resource(a).overlaps(resource(b))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("src/db/**", "src/db/schema.sql", True),
        ("src/db/**", "src/*/schema.sql", True),
        ("src/db/**", "src/web/**", False),
        ("src/db", "src/db/models/user.py", True),  # a plain path covers what is beneath it
        ("migrations", "migrations", True),
        ("migrations", "migrations/0001.sql", True),
        ("port:5432", "port:5432", True),
        ("port:5432", "port:5433", False),
        ("port:5432", "**", False),  # a name is no path
        ("**", "README.md", True),
        (".", "any/thing/at/all", True),
        ("*.py", "setup.py", True),
        ("*.py", "src/setup.py", False),  # * stays within one folder
        ("src/**/*.py", "src/a/b/c.py", True),
        ("src/**/*.py", "lib/c.py", False),
        ("a?c", "abc", True),
        ("a?c", "abcd", False),
        ("src/../lib/x", "lib/**", True),
        ("./docs//guide.md", "docs/guide.md", True),
        ("src/a**b/x", "src/a-anything-b/x", True),  # ** inside a name is a plain star
    ],
)
def test_overlap(a: str, b: str, expected: bool) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("../**", "leads out of"),
        ("src/../../etc", "leads out of"),
        ("/etc/passwd", "not relative"),
        ("C:/Windows", "not relative"),
        ("~/.ssh", "not relative"),
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("src\\db", "backslash"),
        ("a\x00b", "control characters"),
        ("src/\x1b[2J", "control characters"),
        ("*/../x", "follows a wildcard"),
        ("a/" * 65, "deeper than"),
        ("x" * 256, "longer than"),
        ("x" * 1001, "at most 1000"),
    ],
)
def test_a_resource_outside_the_working_directory_or_malformed_is_refused(value: str, words: str) -> None:
    with pytest.raises(Invalid) as refused:
        resource(value, "resources.0")
    assert words in refused.value.message
    assert refused.value.field == "resources.0"


def test_long_patterns_are_compared_without_deep_recursion() -> None:
    deep = "/".join(["*"] * 64)
    assert overlap(deep, "/".join(["**"] * 64))
    assert not overlap("a*" * 120, "b" + "*b" * 120)


# A reference matcher for the property test: a pattern as a regular expression over whole paths.
def pattern_regex(text: str) -> re.Pattern[str]:
    segments = resource(text).segments
    parts = []
    for segment in segments:
        if segment == "**":
            parts.append("(?:[^/]+/)*")
        else:
            body = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
            parts.append(body + "/")
    return re.compile("".join(parts))


NAMES = ["a", "b", "ab", "ba", "aa"]
PATHS = ["/".join(p) + "/" for n in range(1, 4) for p in itertools.product(NAMES, repeat=n)]
SEGMENT = st.sampled_from(["a", "b", "ab", "*", "?", "a*", "*b", "**", "?b"])


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=3), st.lists(SEGMENT, min_size=1, max_size=3))
def test_two_patterns_that_share_a_path_always_overlap(a: list[str], b: list[str]) -> None:
    first, second = "/".join(a), "/".join(b)
    shared = [p for p in PATHS if pattern_regex(first).fullmatch(p) and pattern_regex(second).fullmatch(p)]
    if shared:
        assert overlap(first, second), (first, second, shared[0])
    assert overlap(first, second) == overlap(second, first)
