"""The original's `.knowledge/` folder (core/knowledge_folder.py, cli/knowledge.py): import, export, round trip.

tests/fixtures/knowledge holds the original's quirks: a duplicated title heading (open/ISSUE_12), no title key
(open/ISSUE_3, completed/ISSUE_25), quoted and unquoted timestamps (in-progress/ISSUE_10), unknown keys
(open/ISSUE_12: sprint, reviewer), invalid YAML (ISSUE_40), invalid UTF-8 (ISSUE_41), no front matter (ISSUE_42),
a file that is not an issue (open/notes.md), the same id in two folders (ISSUE_10) and GOAL.md.
"""

from __future__ import annotations

import asyncio
import filecmp
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.core.errors import Invalid
from murmuration.core.events import EventBus
from murmuration.core.issues import IssueFilter
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.knowledge_folder import export_folder, import_folder
from murmuration.datafolder import DataFolder
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent.parent / "fixtures" / "knowledge"
IMPORTED = ["ISSUE_2", "ISSUE_3", "ISSUE_10", "ISSUE_12", "ISSUE_25"]
SKIPPED = {
    "open/ISSUE_10.md": "in-progress/ISSUE_10.md",  # the older copy of a moved card
    "open/ISSUE_40.md": "not valid YAML",
    "open/ISSUE_41.md": "not valid UTF-8",
    "open/ISSUE_42.md": "no front matter",
    "open/notes.md": "ISSUE_<n>.md",
}
MILESTONE = {
    "title": "Web UI HUD with URL returns from MCP tools",
    "description": "Ship a dashboard that every tool result links into.",
    "target_date": "2025-02-15",
    "progress": 40,
    "related_issues": ["ISSUE_3", "ISSUE_12"],
    "updated_by": None,
    "created_at": "2025-07-31T07:26:16.579Z",
    "updated_at": "2025-07-31T08:32:25.558Z",
}
HEADER = "---\nid: {id}\ntype: issue\nstatus: open\ntimestamp: '2025-07-31T06:20:00.000Z'\n"
HEADER += "lastUpdated: '2025-07-31T06:20:00.000Z'\ntags: []\n"


# --- helpers --------------------------------------------------------------------------------------------------


@contextmanager
def knowledge_base(path: Path) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(path, EventBus())
    try:
        yield kb
    finally:
        kb.close()


def copy_fixture(tmp_path: Path, name: str = "knowledge") -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURE, target)
    return target


def snapshot(kb: KnowledgeBase) -> dict[str, Any]:
    """Everything an import keeps: every issue with its kept extra keys, the milestone and its extra keys."""
    return {
        "issues": {row["id"]: row for row in kb.issues.export_rows()},
        "milestone": kb.milestone.get(),
        "milestone_extra": kb.milestone.extra(),
    }


def write_issue(folder: Path, status: str, name: str, text: str | bytes) -> Path:
    path = folder / status / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), text
    meta: dict[str, Any] = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))
    return meta


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli_ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"{args}: exit {result.returncode}: {result.stdout} {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def cli_fails(*args: str, timeout: float = 60) -> str:
    """Run a command that must fail with exit 1 and one sentence on stderr (no traceback); that sentence."""
    result = run_cli(*args, timeout=timeout)
    assert result.returncode == 1, f"{args}: exit {result.returncode}: {result.stdout} {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def new_instance(name: str, tmp_path: Path) -> DataFolder:
    return registry.create(name, tmp_path)


def assert_fixture_imported(state: dict[str, Any]) -> None:
    issues = state["issues"]
    assert sorted(issues, key=lambda i: int(i.split("_")[1])) == IMPORTED

    assert issues["ISSUE_2"] | {"extra": {}} == {
        "id": "ISSUE_2",
        "title": "Ünïcödé title — with dash",
        "content": "Body with `code` and **bold**.",
        "status": "archived",
        "priority": "medium",
        "tags": [],
        "assignee": None,
        "due_date": None,
        "related_ids": [],
        "blocked_by": [],
        "waiting_on": [],
        "assigned_at": None,
        "created_by": None,  # the original recorded no author
        "updated_by": None,
        "created_at": "2025-07-29T00:00:00.000Z",
        "updated_at": "2025-07-29T01:00:00.000Z",
        "extra": {},
    }
    # no title key: the title is the heading, which leaves the body
    three = issues["ISSUE_3"]
    assert three["title"] == "Build the web UI HUD"
    assert three["content"] == "The dashboard should show processes and the queue.\n\n- live logs\n- kanban"
    assert (three["status"], three["priority"], three["tags"]) == ("open", "high", ["web-ui", "hud"])
    assert (three["created_at"], three["updated_at"]) == ("2025-07-31T06:20:00.000Z", "2025-07-31T06:25:00.500Z")
    # the newer copy of a moved card wins; unquoted YAML timestamps are read as the quoted ones
    ten = issues["ISSUE_10"]
    assert (ten["status"], ten["title"], ten["content"]) == (
        "in-progress",
        "Add get_issue MCP tool",
        "Expose a single issue to agents.",
    )
    assert (ten["created_at"], ten["updated_at"]) == ("2025-07-30T10:00:00.000Z", "2025-07-31T09:30:00.123Z")
    assert (ten["priority"], ten["tags"]) == ("low", ["mcp"])
    # the duplicated heading goes, both times; every optional field and the unknown keys are kept
    twelve = issues["ISSUE_12"]
    assert twelve["title"] == "Fragment System: Fix Tag Filtering"
    assert twelve["content"] == "Tags with dashes are dropped by the filter."
    assert (twelve["assignee"], twelve["due_date"], twelve["related_ids"]) == (
        "claude",
        "2025-08-15",
        ["ISSUE_3", "ISSUE_10"],
    )
    assert twelve["extra"] == {"sprint": 7, "reviewer": {"name": "ben"}}
    assert (twelve["created_at"], twelve["updated_at"]) == ("2025-07-31T08:00:00.000Z", "2025-07-31T08:00:00.000Z")
    twenty_five = issues["ISSUE_25"]
    assert (twenty_five["title"], twenty_five["content"]) == ("Test Issue for Tag Filter", "Closed after the fix.")
    assert (twenty_five["status"], twenty_five["priority"], twenty_five["tags"]) == ("completed", "low", ["testing"])

    assert state["milestone"] == MILESTONE
    assert state["milestone_extra"] == {"id": "MILESTONE_1", "type": "milestone", "status": "open", "tags": []}


def assert_skipped_reported(skipped: list[dict[str, str]]) -> None:
    reasons = {s["path"]: s["reason"] for s in skipped}
    assert set(reasons) == set(SKIPPED)
    for path, words in SKIPPED.items():
        assert words in reasons[path], (path, reasons[path])


# --- import (core) --------------------------------------------------------------------------------------------


def test_the_fixture_imports_ids_titles_times_and_every_field(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, FIXTURE)
        assert report.added == IMPORTED
        assert report.already_present == []
        assert report.milestone == "imported"
        assert_fixture_imported(snapshot(kb))


def test_each_bad_file_is_reported_with_its_reason(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, FIXTURE).as_dict()
    assert_skipped_reported(report["skipped"])
    assert "byte" in {s["path"]: s["reason"] for s in report["skipped"]}["open/ISSUE_41.md"]


def test_a_second_import_adds_nothing(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        before = snapshot(kb)
        again = import_folder(kb, FIXTURE)
        assert again.added == []
        assert again.already_present == IMPORTED
        assert again.milestone == "already set"
        assert snapshot(kb) == before


def test_an_import_keeps_an_issue_changed_here_since(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        kb.issues.update("ISSUE_3", {"status": "completed", "title": "Changed here"})
        import_folder(kb, FIXTURE)
        assert kb.issues.get("ISSUE_3")["title"] == "Changed here"
        assert kb.issues.get("ISSUE_3")["status"] == "completed"


def test_new_issues_after_an_import_get_ids_above_the_imported_ones(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        assert kb.issues.record("After the import")["id"] == "ISSUE_26"


def test_an_import_sends_one_event(tmp_path: Path) -> None:
    async def check() -> None:
        events = EventBus()
        subscription = events.subscribe(["issue"])
        kb = KnowledgeBase.open(tmp_path / "state.db", events)
        try:
            import_folder(kb, FIXTURE)
        finally:
            kb.close()
        event = await asyncio.wait_for(subscription.next(), 5)
        assert event == {"topic": "issue", "action": "imported", "ids": IMPORTED}

    asyncio.run(check())


def test_the_title_heading_goes_once_or_twice_and_other_quirks(tmp_path: Path) -> None:
    folder = tmp_path / "quirks"
    write_issue(folder, "open", "ISSUE_7.md", HEADER.format(id="ISSUE_7") + "---\n\n# Twice\n\n# Twice\n\nBody.\n")
    write_issue(folder, "open", "ISSUE_8.md", HEADER.format(id="ISSUE_8") + "title: Key\n---\n\n# Other\n\nBody.")
    write_issue(
        folder,
        "open",
        "ISSUE_9.md",
        "---\nid: ISSUE_9\ntype: issue\nstatus: open\ntimestamp: '2025-07-31T08:00:00+02:00'\n"
        "lastUpdated: 2025-08-01\ntags: [a, 7]\ntitle: 42\n---\n\nNo heading at all.",
    )
    write_issue(
        folder, "open", "ISSUE_14.md", "\ufeff" + HEADER.format(id="ISSUE_14") + "---\r\n\r\n# Crlf\r\n\r\nx\r\n"
    )
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, folder)
        assert report.skipped == []
        seven = kb.issues.get("ISSUE_7")
        assert (seven["title"], seven["content"]) == ("Twice", "Body.")
        eight = kb.issues.get("ISSUE_8")
        assert (eight["title"], eight["content"]) == ("Key", "# Other\n\nBody.")  # another heading is content
        nine = kb.issues.get("ISSUE_9")
        assert (nine["title"], nine["content"], nine["tags"]) == ("42", "No heading at all.", ["a", "7"])
        assert (nine["created_at"], nine["updated_at"]) == ("2025-07-31T06:00:00.000Z", "2025-08-01T00:00:00.000Z")
        assert kb.issues.get("ISSUE_14")["title"] == "Crlf"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + "priority: urgent\n---\n\n# T\n", "priority"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5").replace("tags: []", "tags: web") + "---\n\n# T\n", "tags"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_9") + "---\n\n# T\n", "does not match"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + "---\n\nno heading and no title key\n", "no title"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + 'title: "bell \\a"\n---\n\n# x\n', "title"),
        (
            "ISSUE_5.md",
            HEADER.format(id="ISSUE_5").replace("timestamp: '2025-07-31T06:20:00.000Z'\n", "") + "---\n\n# T\n",
            "timestamp",
        ),
        (
            "ISSUE_5.md",
            HEADER.format(id="ISSUE_5").replace("'2025-07-31T06:20:00.000Z'", "yesterday", 1) + "---\n\n# T\n",
            "timestamp",
        ),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + "# no closing line\n\n# T\n", "closing"),
        ("ISSUE_5.md", "---\n- a list\n- not keys\n---\n\n# T\n", "not a set of keys"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + "tags: [bad tag]\n---\n\n# T\n", "tag"),
        ("ISSUE_5.md", HEADER.format(id="ISSUE_5") + "---\n\n# T\n\n" + "x" * (1 << 20), "1 MiB"),
        ("ISSUE_5.md", b"---\nid: ISSUE_5\ntitle: caf\xe9\n---\n", "UTF-8"),
        ("ISSUE_abc.md", HEADER.format(id="ISSUE_abc") + "---\n\n# T\n", "ISSUE_<n>.md"),
        ("ISSUE_05.md", HEADER.format(id="ISSUE_05") + "---\n\n# T\n", "ISSUE_<n>.md"),
    ],
    ids=[
        "unknown-priority",
        "tags-not-a-list",
        "id-not-the-file-name",
        "no-title-at-all",
        "control-character-in-title",
        "no-timestamp",
        "timestamp-not-a-date",
        "no-closing-line",
        "front-matter-not-keys",
        "bad-tag",
        "over-1-MiB",
        "invalid-utf-8",
        "name-not-a-number",
        "name-with-leading-zero",
    ],
)
def test_a_bad_issue_file_is_skipped_with_its_reason_and_the_rest_imported(
    tmp_path: Path, name: str, text: str | bytes, reason: str
) -> None:
    folder = tmp_path / "bad"
    write_issue(folder, "open", name, text)
    write_issue(folder, "completed", "ISSUE_6.md", HEADER.format(id="ISSUE_6") + "---\n\n# Fine\n\nok")
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, folder)
        assert report.added == ["ISSUE_6"]
        [skipped] = report.skipped
        assert skipped.path == f"open/{name}"
        assert reason in skipped.reason
        assert [i["id"] for i in kb.issues.query(IssueFilter())[0]] == ["ISSUE_6"]


def test_a_bad_goal_file_is_skipped_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "goal"
    write_issue(folder, "open", "ISSUE_1.md", HEADER.format(id="ISSUE_1") + "---\n\n# One\n")
    (folder / "GOAL.md").write_text("---\nid: MILESTONE_1\nprogress: 140\ntitle: Too far\n---\n\nBody\n")
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, folder)
        assert report.milestone == "skipped"
        assert [(s.path, "progress" in s.reason) for s in report.skipped] == [("GOAL.md", True)]
        assert report.added == ["ISSUE_1"]
        assert kb.milestone.get() is None


def test_importing_something_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb, pytest.raises(Invalid) as caught:
        import_folder(kb, tmp_path / "missing")
    assert caught.value.field == "path"


def test_an_empty_folder_imports_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, tmp_path / "empty")
        assert report.as_dict() == {"added": [], "already_present": [], "skipped": [], "milestone": "none"}


# --- hostile imported files --------------------------------------------------------------------------------------


def test_a_self_referencing_yaml_key_is_skipped_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "loop"
    write_issue(folder, "open", "ISSUE_5.md", HEADER.format(id="ISSUE_5") + "loop: &a [*a]\n---\n\n# Loop\n")
    write_issue(folder, "open", "ISSUE_6.md", HEADER.format(id="ISSUE_6") + "---\n\n# Fine\n")
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, folder)
        assert report.added == ["ISSUE_6"]
        assert [s.path for s in report.skipped] == ["open/ISSUE_5.md"]


def test_a_yaml_alias_bomb_is_skipped_quickly(tmp_path: Path) -> None:
    """A 1 KB file whose aliases expand to 10⁹ strings must not hang the import or eat the machine's memory."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, 9)]
    folder = tmp_path / "bomb"
    write_issue(folder, "open", "ISSUE_5.md", HEADER.format(id="ISSUE_5") + "\n".join(lines) + "\n---\n\n# Bomb\n")
    write_issue(folder, "open", "ISSUE_6.md", HEADER.format(id="ISSUE_6") + "---\n\n# Fine\n")
    new_instance("Bombed", tmp_path)

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    try:
        result = subprocess.run(
            [sys.executable, "-m", "murmuration", "import-knowledge", str(folder), "--instance", "Bombed"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("import-knowledge was still expanding YAML aliases after 30 s")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Skipped open/ISSUE_5.md" in result.stdout
    assert "Imported 1 issue(s)" in result.stdout


def test_an_imported_huge_id_leaves_new_ids_reachable(tmp_path: Path) -> None:
    folder = tmp_path / "huge"
    huge = "ISSUE_999999999999999999"  # the largest id get_issue accepts
    write_issue(folder, "open", f"{huge}.md", HEADER.format(id=huge) + "---\n\n# Huge\n")
    with knowledge_base(tmp_path / "state.db") as kb:
        report = import_folder(kb, folder)
        if report.added:  # either refuse the file, or keep every later id usable
            assert kb.issues.get(huge)["title"] == "Huge"
        made = kb.issues.record("After the huge one")
        assert kb.issues.get(made["id"])["title"] == "After the huge one"
        assert kb.issues.update(made["id"], {"status": "completed"})["status"] == "completed"


# --- export (core) --------------------------------------------------------------------------------------------


def test_export_writes_the_original_layout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        result = export_folder(kb, out)
    assert sorted(result["written"]) == sorted(
        [
            "archived/ISSUE_2.md",
            "open/ISSUE_3.md",
            "in-progress/ISSUE_10.md",
            "open/ISSUE_12.md",
            "completed/ISSUE_25.md",
            "GOAL.md",
        ]
    )
    assert result["removed"] == []
    meta = front_matter(out / "open" / "ISSUE_12.md")
    assert list(meta)[:8] == ["id", "type", "status", "timestamp", "lastUpdated", "tags", "title", "priority"]
    assert meta["timestamp"] == "2025-07-31T08:00:00.000Z"  # a quoted string, as the original wrote it
    assert (meta["assignee"], meta["dueDate"], meta["relatedIds"]) == (
        "claude",
        "2025-08-15T00:00:00.000Z",
        ["ISSUE_3", "ISSUE_10"],
    )
    assert (meta["sprint"], meta["reviewer"]) == (7, {"name": "ben"})
    text = (out / "open" / "ISSUE_12.md").read_text(encoding="utf-8")
    assert "timestamp: '2025-07-31T08:00:00.000Z'" in text
    assert (
        text.split("\n---\n", 1)[1]
        == "\n# Fragment System: Fix Tag Filtering\n\nTags with dashes are dropped by the filter.\n"
    )
    goal = front_matter(out / "GOAL.md")
    assert (goal["id"], goal["type"], goal["title"], goal["progress"]) == (
        "MILESTONE_1",
        "milestone",
        MILESTONE["title"],
        40,
    )
    assert goal["targetDate"] == "2025-02-15T00:00:00.000Z"
    assert goal["relatedIssueIds"] == ["ISSUE_3", "ISSUE_12"]
    assert "description" not in goal  # the description is the body
    assert (
        (out / "GOAL.md")
        .read_text(encoding="utf-8")
        .endswith("\n\nShip a dashboard that every tool result links into.\n")
    )


def test_import_export_import_gives_the_same_issues_and_milestone(tmp_path: Path) -> None:
    out = tmp_path / "exported"
    with knowledge_base(tmp_path / "first.db") as first:
        import_folder(first, FIXTURE)
        first.issues.record("Made here", "with **content**", tags=["new"], priority="high")
        first.issues.update("ISSUE_26", {"assignee": "me", "due_date": "2026-01-02", "related_ids": ["ISSUE_2"]})
        original = snapshot(first)
        export_folder(first, out)
    with knowledge_base(tmp_path / "second.db") as second:
        report = import_folder(second, out)
        assert report.skipped == []
        assert report.added == [*IMPORTED, "ISSUE_26"]
        again = snapshot(second)
    assert again == original
    assert_fixture_imported({**again, "issues": {k: v for k, v in again["issues"].items() if k != "ISSUE_26"}})
    # and the second export is the first, file for file
    with knowledge_base(tmp_path / "second.db") as second:
        export_folder(second, tmp_path / "exported-again")
    assert {k: front_matter(out / k) for k in tree(out)} == {
        k: front_matter(tmp_path / "exported-again" / k) for k in tree(tmp_path / "exported-again")
    }


def test_export_after_a_status_change_removes_the_old_file_and_leaves_other_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "board"
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, FIXTURE)
        export_folder(kb, out)
        (out / "README.md").write_text("my notes\n")
        (out / "open" / "notes.md").write_text("---\ntitle: not an issue\n---\n")
        (out / "open" / "ISSUE_3.md.orig").write_text("a merge leftover\n")
        (out / "drafts").mkdir()
        (out / "drafts" / "ISSUE_99.md").write_text("not a status folder\n")
        others = {k: v for k, v in tree(out).items() if not k.endswith(("ISSUE_3.md", "GOAL.md"))}

        kb.issues.update("ISSUE_3", {"status": "completed"})
        result = export_folder(kb, out)
    assert result["removed"] == ["open/ISSUE_3.md"]
    assert not (out / "open" / "ISSUE_3.md").exists()
    assert front_matter(out / "completed" / "ISSUE_3.md")["status"] == "completed"
    after = tree(out)
    for name, content in others.items():
        assert after.get(name) == content, name


def test_export_into_the_imported_folder_keeps_the_files_it_could_not_read(tmp_path: Path) -> None:
    """Exporting back into the folder a board came from (to keep it in git) must not delete what import skipped."""
    board = copy_fixture(tmp_path)
    unreadable = {
        name: (board / name).read_bytes()
        for name in ("open/ISSUE_40.md", "open/ISSUE_41.md", "open/ISSUE_42.md", "open/notes.md")
    }
    with knowledge_base(tmp_path / "state.db") as kb:
        import_folder(kb, board)
        result = export_folder(kb, board)
    assert "open/ISSUE_10.md" in result["removed"]  # the older copy of the moved card goes
    assert not (board / "open" / "ISSUE_10.md").exists()
    for name, content in unreadable.items():
        assert (board / name).exists(), f"export deleted {name}, a file it never read"
        assert (board / name).read_bytes() == content


def test_export_of_an_empty_instance_writes_nothing(tmp_path: Path) -> None:
    with knowledge_base(tmp_path / "state.db") as kb:
        assert export_folder(kb, tmp_path / "out") == {"written": [], "removed": []}


# --- a failing import changes nothing ---------------------------------------------------------------------------


def test_an_import_whose_milestone_fails_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "long-goal"
    write_issue(folder, "open", "ISSUE_1.md", HEADER.format(id="ISSUE_1") + "---\n\n# One\n")
    (folder / "GOAL.md").write_text(f"---\nid: MILESTONE_1\ntitle: Long goal\n---\n\n{'word ' * 600}\n")  # > 2000
    with knowledge_base(tmp_path / "state.db") as kb:
        try:
            report = import_folder(kb, folder)
        except Invalid:
            assert snapshot(kb)["issues"] == {}, "the import failed but its issues were committed"
            assert kb.milestone.get() is None
        else:
            assert [s.path for s in report.skipped] == ["GOAL.md"]
            assert report.added == ["ISSUE_1"]


def test_an_import_that_cannot_write_changes_nothing(tmp_path: Path) -> None:
    folder = new_instance("Locked", tmp_path)
    with knowledge_base(folder.state_db) as kb:
        kb.issues.record("Already here")
    locker = sqlite3.connect(folder.state_db, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock past the busy timeout
        sentence = cli_fails("import-knowledge", str(FIXTURE), "--instance", "Locked")
        assert "locked" in sentence or "busy" in sentence
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    with knowledge_base(folder.state_db) as kb:
        state = snapshot(kb)
    assert list(state["issues"]) == ["ISSUE_1"]
    assert state["milestone"] is None


# --- the command line ------------------------------------------------------------------------------------------


def test_cli_import_into_a_stopped_instance(tmp_path: Path) -> None:
    folder = new_instance("Stopped Board", tmp_path)
    out = cli_ok("import-knowledge", str(FIXTURE), "--instance", "Stopped Board")
    lines = out.splitlines()
    assert lines[0] == "Imported 5 issue(s); 0 were already there; milestone: imported."
    skipped = {line.split(": ", 1)[0].removeprefix("Skipped "): line for line in lines[1:]}
    assert set(skipped) == set(SKIPPED)
    for path, words in SKIPPED.items():
        assert words in skipped[path]
    with knowledge_base(folder.state_db) as kb:
        assert_fixture_imported(snapshot(kb))
    again = cli_ok("import-knowledge", str(FIXTURE), "--instance", "Stopped Board")
    assert again.splitlines()[0] == "Imported 0 issue(s); 5 were already there; milestone: already set."


def test_cli_round_trip_between_two_stopped_instances(tmp_path: Path) -> None:
    first = new_instance("First", tmp_path)
    second = new_instance("Second", tmp_path)
    out = tmp_path / "exported"
    cli_ok("import-knowledge", str(FIXTURE), "--instance", "First")
    written = cli_ok("export-knowledge", str(out), "--instance", "First")
    assert written.strip() == f"Wrote 6 file(s) to {out}; removed 0 moved issue file(s)."
    cli_ok("import-knowledge", str(out), "--instance", "Second")
    with knowledge_base(first.state_db) as a, knowledge_base(second.state_db) as b:
        assert snapshot(a) == snapshot(b)
        assert_fixture_imported(snapshot(b))


def test_cli_import_and_export_through_a_running_instance(tmp_path: Path, cli_instances: list[str]) -> None:
    folder = new_instance("Running Board", tmp_path)
    cli_instances.append("Running Board")
    cli_ok("start", "Running Board")
    board = copy_fixture(tmp_path, "board")

    async def watch_import() -> tuple[dict[str, Any], str]:
        async with await InstanceClient.for_folder(folder) as watcher:
            await watcher.subscribe(["issue"])
            out = await asyncio.to_thread(cli_ok, "import-knowledge", str(board), "--instance", "Running Board")
            event: dict[str, Any] = await asyncio.wait_for(watcher.next_event(), 10)
            return event, out

    event, out = asyncio.run(watch_import())
    assert out.splitlines()[0] == "Imported 5 issue(s); 0 were already there; milestone: imported."
    assert (event["action"], event["ids"]) == ("imported", IMPORTED)  # the dashboard hears of it at once

    async def change_and_read() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with await InstanceClient.for_folder(folder) as client:
            await client.call("update_issue", {"issue_id": "ISSUE_3", "status": "completed"})
            issues = (await client.call("list_issues", {"limit": 100}))["issues"]
            milestone = (await client.call("get_milestone"))["milestone"]
            return issues, milestone

    issues, milestone = asyncio.run(change_and_read())
    assert sorted(i["id"] for i in issues) == sorted(IMPORTED)
    assert milestone == MILESTONE

    second = cli_ok("import-knowledge", str(board), "--instance", "Running Board")
    assert second.splitlines()[0] == "Imported 0 issue(s); 5 were already there; milestone: already set."

    exported = cli_ok("export-knowledge", str(board), "--instance", "Running Board")
    assert "Wrote 6 file(s)" in exported
    assert not (board / "open" / "ISSUE_3.md").exists()
    assert front_matter(board / "completed" / "ISSUE_3.md")["status"] == "completed"
    assert (board / "open" / "notes.md").read_bytes() == (FIXTURE / "open" / "notes.md").read_bytes()

    cli_ok("stop", "Running Board")
    with knowledge_base(folder.state_db) as kb:
        assert kb.issues.get("ISSUE_3")["status"] == "completed"


def test_cli_import_of_a_path_that_is_not_a_folder_is_one_sentence(tmp_path: Path) -> None:
    new_instance("Board", tmp_path)
    sentence = cli_fails("import-knowledge", str(tmp_path / "nowhere"), "--instance", "Board")
    assert "is not a folder" in sentence
    (tmp_path / "file.txt").write_text("x")
    sentence = cli_fails("export-knowledge", str(tmp_path / "file.txt"), "--instance", "Board")
    assert "is a file" in sentence


def test_cli_import_into_an_unknown_instance_is_one_sentence(tmp_path: Path) -> None:
    sentence = cli_fails("import-knowledge", str(FIXTURE), "--instance", "Nobody")
    assert "Nobody" in sentence


def test_cli_import_does_not_change_the_source_folder(tmp_path: Path) -> None:
    board = copy_fixture(tmp_path)
    new_instance("Reader", tmp_path)
    cli_ok("import-knowledge", str(board), "--instance", "Reader")
    assert not filecmp.dircmp(board, FIXTURE).diff_files
    assert tree(board) == tree(FIXTURE)
