"""No message anywhere suggests a command that destroys data, and the command line names itself once.

An agent does what an error tells it. A peer's error text once said to run a destructive command and an
agent wiped 247 issues with it. So every string a user or an agent can see — each string literal in the
Python package (docstrings aside) and in the dashboard's scripts — is scanned for advice to destroy:
a backquoted command that removes or forces, `--force` or `rm -` anywhere, and the "what to do" part of a
sentence (after its semicolon) telling to delete, drop, remove, wipe, erase, purge or truncate.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from murmuration.cli.errors import say
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "app" / "murmuration"
DASHBOARD = ROOT / "resources" / "dashboard"

DESTRUCTIVE = re.compile(r"\b(rm|delete|drop|remove|wipe|erase|purge|truncate|unlink)\b", re.IGNORECASE)
ANYWHERE = re.compile(r"--force\b|\brm\s+-|\brm\s+`|\bDROP\s+TABLE\b.*;|\bDELETE\s+FROM\b.*;")
COMMAND = re.compile(r"`([^`]+)`")
SQL = re.compile(r"^\s*(CREATE|INSERT|UPDATE|DELETE|DROP|SELECT|PRAGMA|ALTER|BEGIN|WITH)\b")


def destructive_advice(message: str) -> str | None:
    """The part of `message` that tells someone to destroy data, or None when there is none."""
    if SQL.match(message):
        return None  # a statement the code runs, not words anyone reads
    for command in COMMAND.findall(message):
        if DESTRUCTIVE.search(command) or ANYWHERE.search(command):
            return command
    if ANYWHERE.search(message):
        return message
    for advice in message.split(";")[1:]:
        if DESTRUCTIVE.search(advice):
            return advice.strip()
    return None


def python_messages(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal in a module but its docstrings; an f-string with `{}` where its values go."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


JS_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`')


def script_messages(path: Path) -> Iterator[tuple[int, str]]:
    """Every string and template literal in a script (with `{}` for what `${…}` puts in)."""
    source = path.read_text()
    for match in JS_STRING.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        yield line, re.sub(r"\$\{[^}]*\}", "{}", match.group()[1:-1])


def every_message() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in python_messages(path):
            yield f"{path.relative_to(ROOT)}:{line}", text
    for path in sorted([*DASHBOARD.rglob("*.js"), *DASHBOARD.rglob("*.html")]):
        for line, text in script_messages(path):
            yield f"{path.relative_to(ROOT)}:{line}", text


def test_the_scan_reads_every_message_of_the_code() -> None:
    found = dict(every_message())
    assert len(found) > 1000
    texts = set(found.values())
    # A sample from each kind of place a message lives: core, the server, the CLI, the tray, the dashboard.
    assert "The disk holding {} is full; free some space and retry." in texts
    assert "{} is running; stop it with `murmuration stop {}` first." in texts
    assert "Reconnecting…" in texts


def test_no_message_suggests_a_command_that_destroys_data() -> None:
    offending = [f"{where}: {text!r}" for where, text in every_message() if destructive_advice(text)]
    assert offending == []


@pytest.mark.parametrize(
    "message",
    [
        "The database is damaged; run `murmuration rm NAME` and start again.",
        "Something is wrong; delete state.db to start afresh.",
        "instance.json is broken; restore it or remove the file to start afresh.",
        "Cannot migrate; try `murmuration serve --force`.",
        "The folder is in the way: rm -rf it.",
        "The schema is old; drop the issues table.",
        "Locked; run `sqlite3 state.db 'DROP TABLE issues'`.",
    ],
)
def test_the_scan_catches_destructive_advice(message: str) -> None:
    assert destructive_advice(message) is not None


@pytest.mark.parametrize(
    "message",
    [
        "Deleted ISSUE_3.",
        "Delete ISSUE_3 “a title” for good?",
        "Delete an issue for good.",
        "The connection to the instance dropped; reconnecting…",
        "DELETE FROM issues WHERE number = ?",
        "This instance's data is damaged, so it is read-only; run `murmuration doctor x` to repair it.",
    ],
)
def test_the_scan_lets_plain_words_pass(message: str) -> None:
    assert destructive_advice(message) is None


# --- the program's name, once --------------------------------------------------------------------------------


def test_say_names_the_program_once_even_for_a_sentence_that_already_carries_it() -> None:
    assert say("Port 1 is in use.") == "murmuration: Port 1 is in use."
    assert say("murmuration: murmuration: Port 1 is in use.") == "murmuration: Port 1 is in use."


def test_a_failing_server_start_is_reported_with_the_program_name_once(home: Path) -> None:
    assert run_cli("new", "twice").returncode == 0
    (home / "instances" / "twice" / "instance.json").write_text("[]")
    result = run_cli("start", "twice")
    assert result.returncode == 1
    assert result.stderr.count("murmuration:") == 1, result.stderr
