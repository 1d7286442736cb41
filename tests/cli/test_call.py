"""`murmuration call NAME …`: every agent operation from a shell, generated from the operation table.

Each case runs the real command in a child process; the happy paths talk to a real detached server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from murmuration.mcp_bridge.tools import agent_operations
from murmuration.operations import build_table
from tests.cli.test_commands import fails, new, ok, start


def call(*args: str) -> Any:
    return json.loads(ok("call", *args))


def test_help_lists_every_agent_operation_and_no_other() -> None:
    listed = ok("call", "--help")
    rows = listed.split("operations:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in rows if line.startswith("  ") and not line.startswith("   ")]
    table = build_table()
    assert names == [operation.name for operation in agent_operations(table)]
    assert "shutdown" not in names
    assert "create_login_code" not in names
    assert ok("call") == listed  # no name: the same list


def test_help_of_one_operation_describes_its_parameters() -> None:
    text = ok("call", "record_issue", "--help")
    operation = build_table().get("record_issue")
    assert operation is not None
    assert operation.description in text  # the table's own words
    assert "title (string, required)" in text
    assert "One of: low, medium, high." in text


def test_calls_with_key_value_words_and_with_json(cli_instances: list[str]) -> None:
    new("board")
    start("board", cli_instances)
    made = call("record_issue", "title=42", "priority=high", 'tags=["cli","x"]', "--instance", "board")
    assert (made["id"], made["title"], made["priority"], made["tags"]) == ("ISSUE_1", "42", "high", ["cli", "x"])
    assert made["web_url"].endswith("#/issues/ISSUE_1")
    again = call("--instance", "board", "get_issue", "--params", '{"issue_id": "ISSUE_1"}')
    assert again["title"] == "42"
    listed = call("list_issues", "limit=1", "--instance", "board")
    assert listed["total"] == 1
    assert "sentence" in fails("call", "get_issue", "issue_id=ISSUE_9", "--instance", "board").replace(
        "No issue ISSUE_9 exists", "sentence"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["drop_tables"], "No operation is named 'drop_tables'"),
        (["shutdown"], "No operation is named 'shutdown'"),  # a person's tool, not an agent's
        (["record_issue", "--params", "{not json"], "--params is not valid JSON"),
        (["record_issue", "--params", "[1, 2]"], "--params must be a JSON object"),
        (["record_issue", "--params", "{}", "title=x"], "either as --params JSON or as key=value words"),
        (["record_issue", "title"], "'title' is not key=value"),
        (["record_issue", "=x"], "'=x' is not key=value"),
        (["record_issue", "title=a", "title=b"], "'title' is given twice"),
        (["record_issue"], "Invalid parameter 'title' for record_issue"),
        (["record_issue", "title=x", "colour=red"], "Invalid parameter 'colour'"),
        (["record_issue", "title=x", "tags=notjson"], "tags=notjson is not array JSON"),
        (["record_issue", "title=x", "tags=7"], "Invalid parameter 'tags'"),
        (["start_process", "command=ls", "priority=high"], "priority=high is not integer JSON"),
        (["start_process", 'command=["ls"]', "priority=high"], "priority=high is not integer JSON"),
        (["start_process", 'command=["ls"]', "priority=99"], "Invalid parameter 'priority'"),
        (["ping", "--instance", "twice"], "--instance is given twice"),
        (["record_issue", "title=" + "x" * 100_000], "at most"),
    ],
)
def test_broken_calls_get_one_sentence_and_exit_1(args: list[str], says: str) -> None:
    new("target")
    assert says in fails("call", *args, "--instance", "target")


def test_an_instance_that_is_not_running_or_not_there_is_named() -> None:
    new("idle")
    assert "idle is not running; start it with `murmuration start idle`" in fails("call", "ping", "--instance", "idle")
    assert "No instance is named 'ghost'" in fails("call", "ping", "--instance", "ghost")
