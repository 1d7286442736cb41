"""The original Murmuration's `.knowledge/` folder: read it into an instance, write an instance back out.

Layout: status folders `open/`, `in-progress/`, `completed/`, `archived/` of `ISSUE_<n>.md` files, each with
YAML front matter and a body that starts with `# Title` (twice, when the original prepended it to content
that already had it), plus `GOAL.md` for the milestone, whose body is its description.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from murmuration.core import clock
from murmuration.core.blockers import replace_blockers
from murmuration.core.errors import Invalid, NotFound
from murmuration.core.issues import ISSUE_ID, MAX_NUMBER, STATUSES, issue_number
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.plain_folder import NotPlain, PlainFolder

MAX_FILE = 1 << 20  # bytes; a bigger issue file is not something the original wrote
GOAL = "GOAL.md"
KNOWN_ISSUE_KEYS = {"id", "type", "status", "timestamp", "lastUpdated", "tags", "title", "priority"}
KNOWN_ISSUE_KEYS |= {"assignee", "dueDate", "relatedIds"}
# Written by this product only (the original had one agent and no dependencies), read back on import.
KNOWN_ISSUE_KEYS |= {"createdBy", "updatedBy", "assignedAt", "blockedBy"}
KNOWN_GOAL_KEYS = {"timestamp", "lastUpdated", "title", "targetDate", "progress", "relatedIssueIds"}


class BadFile(Exception):
    """A file that cannot be imported; the message is the reason reported for it."""


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    milestone: str = "none"  # "imported", "already set", "none" or "skipped"

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "already_present": self.already_present,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "milestone": self.milestone,
        }


def split_front_matter(raw: bytes) -> tuple[dict[str, Any], str]:
    """The YAML front matter (parsed by PyYAML's safe loader) and the body of one markdown file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFile(f"not valid UTF-8 (byte {exc.start})") from None
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise BadFile("no front matter (the file must start with ---)")
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        raise BadFile("the front matter has no closing ---")
    front = "".join(lines[1:end])
    try:
        # The original never wrote aliases; refusing them stops self-references and alias bombs cold.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(front, Loader=yaml.SafeLoader)):
            raise BadFile("the front matter uses YAML aliases (*name), which a .knowledge file never has")
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise BadFile(f"the front matter is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise BadFile("the front matter is not a set of keys")
    return meta, "".join(lines[end + 1 :]).strip()


def timestamp(value: Any, key: str) -> str:
    """An ISO timestamp in core's form from a quoted string or a YAML timestamp."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadFile(f"{key} is not a date and time ({value[:40]!r})") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    else:
        raise BadFile(f"{key} is missing or not a date and time")
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def strip_title_headings(body: str, title: str | None) -> tuple[str | None, str]:
    """Take the leading `# Title` heading (the original sometimes wrote it twice) off the body."""
    heading = re.compile(r"\A#[ \t]+(.+?)[ \t]*(?:\n|\Z)")
    match = heading.match(body)
    if match is None:
        return title, body
    found = match.group(1).strip()
    if title is None or found == title:
        title = found
        body = body[match.end() :].lstrip("\n")
        again = heading.match(body)
        if again is not None and again.group(1).strip() == title:
            body = body[again.end() :].lstrip("\n")
    return title, body.strip()


def _string_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise BadFile(f"{key} is not a list of names")
    return [str(v) for v in value]


def read_issue(column: PlainFolder, name: str, status: str) -> tuple[int, dict[str, Any], str, str]:
    """One issue file as (number, checked-later values, created_at, updated_at); BadFile says why not."""
    stem = name.removesuffix(".md")
    match = ISSUE_ID.fullmatch(stem)
    if match is None:
        raise BadFile("the file name is not ISSUE_<n>.md")
    if int(match.group(1)) > MAX_NUMBER:
        raise BadFile(f"its number is above {MAX_NUMBER:,}, the largest an imported issue may have")
    meta, body = split_front_matter(_read(column, name))
    if str(meta.get("id", stem)) != stem:
        raise BadFile(f"its id {meta.get('id')!r} does not match the file name")
    given = meta.get("title")
    if given is not None and not isinstance(given, str):
        given = str(given)
    title, content = strip_title_headings(body, given.strip() if given else None)
    if not title:
        raise BadFile("no title (neither a title key nor a # heading)")
    due = meta.get("dueDate")
    values = {
        "title": title,
        "content": content,
        "status": status,
        "priority": meta.get("priority", "medium"),
        "tags": _string_list(meta.get("tags"), "tags"),
        "assignee": None if meta.get("assignee") is None else str(meta["assignee"]),
        "due_date": None if due is None else timestamp(due, "dueDate")[:10],
        "related_ids": _string_list(meta.get("relatedIds"), "relatedIds"),
        "created_by": None if meta.get("createdBy") is None else str(meta["createdBy"]),
        "updated_by": None if meta.get("updatedBy") is None else str(meta["updatedBy"]),
        "assigned_at": None if meta.get("assignedAt") is None else timestamp(meta["assignedAt"], "assignedAt"),
        "blocked_by": _string_list(meta.get("blockedBy"), "blockedBy"),
        "extra": {k: _plain(v) for k, v in meta.items() if k not in KNOWN_ISSUE_KEYS},
    }
    created = timestamp(meta.get("timestamp"), "timestamp")
    updated = timestamp(meta.get("lastUpdated", meta.get("timestamp")), "lastUpdated")
    return int(match.group(1)), values, created, updated


def _read(folder: PlainFolder, name: str) -> bytes:
    try:
        return folder.read(name, MAX_FILE)
    except NotPlain as exc:
        raise BadFile(str(exc)) from None
    except OSError as exc:
        raise BadFile(f"it cannot be read ({exc.strerror or exc})") from None


def _plain(value: Any) -> Any:
    """A YAML value as JSON can hold it (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=str))


@dataclass
class FolderContents:
    """What a `.knowledge` folder holds, read and checked, before anything is written."""

    issues: dict[int, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    goal: tuple[dict[str, Any], str, str] | None = None
    report: ImportReport = field(default_factory=ImportReport)


def read_folder(kb: KnowledgeBase, folder: Path) -> FolderContents:
    """Read and check every issue file and GOAL.md in `folder`, touching no database (it may run in a thread).

    Only regular files in the folder's own status sub-folders are read: a link (to a file, a folder or a
    device), a FIFO, a device or a file over MAX_FILE is skipped with its reason, and none of them blocks.
    """
    if not folder.is_absolute():
        raise Invalid(f"The path {str(folder)[:200]!r} must be absolute.", "path")
    try:
        top = PlainFolder.open(folder)
    except OSError:
        raise Invalid(f"{folder} is not a folder.", "path") from None
    contents = FolderContents()
    report = contents.report
    versions: dict[int, list[tuple[str, dict[str, Any], str, str]]] = {}
    with top:
        for status in STATUSES:
            try:
                column = top.folder(status)
            except NotPlain as exc:
                report.skipped.append(Skipped(f"{status}/", str(exc)))
                continue
            if column is None:
                continue
            with column:
                for name in column.names():
                    if not name.endswith(".md"):
                        continue
                    where = f"{status}/{name}"
                    try:
                        number, values, created, updated = read_issue(column, name, status)
                        checked = {**kb.issues.checked(values), "blocked_by": values["blocked_by"]}
                        versions.setdefault(number, []).append((where, checked, created, updated))
                    except BadFile as exc:
                        report.skipped.append(Skipped(where, str(exc)))
                    except Invalid as exc:
                        report.skipped.append(Skipped(where, exc.message))
        contents.goal = _read_goal(kb, top, report)
    for number, copies in versions.items():
        # The same id in two columns: the original moved a card by writing the new file before deleting the old.
        *older, newest = sorted(copies, key=lambda c: c[3])
        report.skipped += [Skipped(c[0], f"ISSUE_{number} is also in {newest[0]}, which is newer") for c in older]
        contents.issues[number] = newest[1:]
    return contents


def import_contents(kb: KnowledgeBase, contents: FolderContents) -> ImportReport:
    """Write what `read_folder` found, keeping ids and times, in one transaction.

    Issues whose id is already here are left alone, so a second import adds nothing; an unexpected failure
    rolls everything back.
    """
    report = contents.report
    goal = contents.goal
    with kb.store.transaction() as db:
        waits: dict[int, list[str]] = {}
        for number in sorted(contents.issues):
            values, created, updated = contents.issues[number]
            if kb.issues.exists(db, number):
                report.already_present.append(f"ISSUE_{number}")
                continue
            waits[number] = values["blocked_by"]
            columns = {k: v for k, v in values.items() if k != "blocked_by"}
            kb.issues.insert(db, columns, created, updated, number)
            report.added.append(f"ISSUE_{number}")
        for number, blocker_ids in waits.items():  # once every issue is in, so any may wait on any
            try:
                replace_blockers(db, number, [issue_number(i, "blockedBy") for i in blocker_ids])
            except (Invalid, NotFound) as exc:
                report.skipped.append(Skipped(f"ISSUE_{number}.md", f"its blockedBy is left out: {exc.message}"))
        if goal is not None:
            if db.execute("SELECT 1 FROM milestone").fetchone() is None:
                kb.milestone.write(db, goal[0], created=goal[1], updated=goal[2])
                report.milestone = "imported"
            else:
                report.milestone = "already set"
    kb.issues.events.publish("issue", action="imported", ids=report.added)
    if report.milestone == "imported":
        kb.milestone.events.publish("milestone", action="updated", milestone=kb.milestone.get())
    return report


def import_folder(kb: KnowledgeBase, folder: Path) -> ImportReport:
    """Import issues and the milestone from `folder`: `read_folder`, then `import_contents`."""
    return import_contents(kb, read_folder(kb, folder))


def _read_goal(kb: KnowledgeBase, top: PlainFolder, report: ImportReport) -> tuple[dict[str, Any], str, str] | None:
    """The milestone's checked columns and times from GOAL.md, or None (reported) when it cannot be used."""
    if GOAL not in top.names():
        return None
    try:
        meta, body = split_front_matter(_read(top, GOAL))
        title = meta.get("title")
        if not isinstance(title, str) or not title.strip():
            raise BadFile("the milestone has no title")
        target = meta.get("targetDate")
        progress = meta.get("progress", 0)
        if not isinstance(progress, (int, float)) or isinstance(progress, bool) or not 0 <= progress <= 100:
            raise BadFile("progress is not a number from 0 to 100")
        values = kb.milestone.checked(
            {
                "title": title,
                "description": body,
                "target_date": None if target is None else timestamp(target, "targetDate")[:10],
                "progress": int(progress),
                "related_issues": _string_list(meta.get("relatedIssueIds"), "relatedIssueIds"),
                "extra": {k: _plain(v) for k, v in meta.items() if k not in KNOWN_GOAL_KEYS},
            }
        )
        created = timestamp(meta.get("timestamp", clock.now()), "timestamp")
        updated = timestamp(meta.get("lastUpdated", clock.now()), "lastUpdated")
    except BadFile as exc:
        report.skipped.append(Skipped("GOAL.md", str(exc)))
        report.milestone = "skipped"
        return None
    except Invalid as exc:
        report.skipped.append(Skipped("GOAL.md", exc.message))
        report.milestone = "skipped"
        return None
    return values, created, updated


class _Quoted(str):
    """A string YAML must quote (timestamps), as the original wrote them."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style="'"))


def _front_matter(meta: dict[str, Any], body: str) -> bytes:
    text = yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return f"---\n{text}---\n\n{body}\n".encode()


@dataclass
class Board:
    """What an export writes: every issue row, the milestone and its kept keys, as read from the database."""

    rows: list[dict[str, Any]]
    milestone: dict[str, Any] | None
    milestone_extra: dict[str, Any]


def read_board(kb: KnowledgeBase) -> Board:
    """Everything `write_folder` writes, read from the database at once."""
    return Board(kb.issues.export_rows(), kb.milestone.get(), kb.milestone.extra())


def export_folder(kb: KnowledgeBase, folder: Path) -> dict[str, Any]:
    """Write every issue and the milestone to `folder`: `read_board`, then `write_folder`."""
    return write_folder(read_board(kb), folder)


def write_folder(board: Board, folder: Path) -> dict[str, Any]:
    """Write `board` to `folder` in the original's layout, touching no database (it may run in a thread).

    An issue's file left in another status folder (the card moved) is removed; no other file is touched.
    Nothing is written through a link or outside `folder`: a status folder that is a link is refused before
    anything is written, and a link where a file goes is replaced by the file, never followed.
    """
    if not folder.is_absolute():
        raise Invalid(f"The path {str(folder)[:200]!r} must be absolute.", "path")
    rows = [row for row in board.rows if ISSUE_ID.fullmatch(row["id"]) and row["status"] in STATUSES]
    milestone = board.milestone
    if not rows and milestone is None:
        return {"written": [], "removed": []}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        top = PlainFolder.open(folder)
    except OSError as exc:
        raise Invalid(f"{folder} cannot be written to ({exc.strerror or exc}).", "path") from None
    with top, contextlib.ExitStack() as stack:
        # Every column is made and checked before the first file is written, so a refusal changes nothing.
        columns: dict[str, PlainFolder] = {}
        for status in STATUSES:
            try:
                column = top.folder(status, create=any(row["status"] == status for row in rows))
            except NotPlain as exc:
                raise Invalid(f"{folder / status} {exc}; an export writes into real folders only.", "path") from None
            if column is not None:
                columns[status] = stack.enter_context(column)
        written: list[str] = []
        for row in rows:
            name = f"{row['id']}.md"
            _write(columns[row["status"]], name, _front_matter(_issue_meta(row), _issue_body(row)))
            written.append(f"{row['status']}/{name}")
        # A card that moved leaves its old file behind in the column it left: remove exactly those files.
        removed = []
        for row in sorted(rows, key=lambda r: (r["status"], f"{r['id']}.md")):
            name = f"{row['id']}.md"
            for status, column in columns.items():
                if status != row["status"] and column.remove(name):
                    removed.append(f"{status}/{name}")
        if milestone is not None:
            meta = _goal_meta(milestone, board.milestone_extra)
            _write(top, GOAL, _front_matter(meta, milestone["description"]))
            written.append(GOAL)
    return {"written": written, "removed": removed}


def _write(folder: PlainFolder, name: str, data: bytes) -> None:
    try:
        folder.write(name, data, mode=0o644)
    except NotPlain as exc:
        raise Invalid(f"{folder.path / name} {exc}; move it away and export again.", "path") from None


def _issue_body(row: dict[str, Any]) -> str:
    return f"# {row['title']}\n\n{row['content']}".rstrip()


def _issue_meta(row: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": row["id"],
        "type": "issue",
        "status": row["status"],
        "timestamp": _Quoted(row["created_at"]),
        "lastUpdated": _Quoted(row["updated_at"]),
        "tags": row["tags"],
        "title": row["title"],
        "priority": row["priority"],
    }
    if row["assignee"] is not None:
        meta["assignee"] = row["assignee"]
    if row["due_date"] is not None:
        meta["dueDate"] = _Quoted(f"{row['due_date']}T00:00:00.000Z")
    if row["related_ids"]:
        meta["relatedIds"] = row["related_ids"]
    for key, column in (("createdBy", "created_by"), ("updatedBy", "updated_by"), ("assignedAt", "assigned_at")):
        if row.get(column) is not None:
            meta[key] = _Quoted(row[column]) if column == "assigned_at" else row[column]
    if row.get("blocked_by"):
        meta["blockedBy"] = row["blocked_by"]
    meta.update({k: v for k, v in row["extra"].items() if k not in meta})
    return meta


def _goal_meta(milestone: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "id": extra.get("id", "MILESTONE_1"),
        "type": "milestone",
        "status": extra.get("status", "open"),
        "timestamp": _Quoted(milestone["created_at"]),
        "lastUpdated": _Quoted(milestone["updated_at"]),
        "tags": extra.get("tags", []),
        "title": milestone["title"],
    }
    if milestone["target_date"]:
        meta["targetDate"] = _Quoted(f"{milestone['target_date']}T00:00:00.000Z")
    meta["progress"] = milestone["progress"]
    if milestone["related_issues"]:
        meta["relatedIssueIds"] = milestone["related_issues"]
    meta.update({k: v for k, v in extra.items() if k not in meta})
    return meta
