"""The original Murmuration's `.knowledge/` folder: read it into an instance, write an instance back out.

Layout: status folders `open/`, `in-progress/`, `completed/`, `archived/` of `ISSUE_<n>.md` files, each with
YAML front matter and a body that starts with `# Title` (twice, when the original prepended it to content
that already had it), plus `GOAL.md` for the milestone, whose body is its description.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from murmuration.atomicfile import write_atomic
from murmuration.core import clock
from murmuration.core.blockers import replace_blockers
from murmuration.core.errors import Invalid, NotFound
from murmuration.core.issues import ISSUE_ID, MAX_NUMBER, STATUSES, issue_number
from murmuration.core.knowledge import KnowledgeBase

MAX_FILE = 1 << 20  # bytes; a bigger issue file is not something the original wrote
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


def split_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """The YAML front matter (parsed by PyYAML's safe loader) and the body of one markdown file."""
    raw = path.read_bytes()
    if len(raw) > MAX_FILE:
        raise BadFile(f"larger than {MAX_FILE // 1024} KiB")
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


def read_issue(path: Path, status: str) -> tuple[int, dict[str, Any], str, str]:
    """One issue file as (number, checked-later values, created_at, updated_at); BadFile says why not."""
    match = ISSUE_ID.fullmatch(path.stem)
    if match is None:
        raise BadFile("the file name is not ISSUE_<n>.md")
    if int(match.group(1)) > MAX_NUMBER:
        raise BadFile(f"its number is above {MAX_NUMBER:,}, the largest an imported issue may have")
    meta, body = split_front_matter(path)
    if str(meta.get("id", path.stem)) != path.stem:
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


def _plain(value: Any) -> Any:
    """A YAML value as JSON can hold it (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=str))


def import_folder(kb: KnowledgeBase, folder: Path) -> ImportReport:
    """Import issues and the milestone from `folder`, keeping ids and times, in one transaction.

    Issues whose id is already here are left alone, so a second import adds nothing. A file that cannot be
    read is skipped and reported; an unexpected failure rolls everything back.
    """
    if not folder.is_absolute():
        raise Invalid(f"The path {str(folder)[:200]!r} must be absolute.", "path")
    if not folder.is_dir():
        raise Invalid(f"{folder} is not a folder.", "path")
    report = ImportReport()
    versions: dict[int, list[tuple[str, dict[str, Any], str, str]]] = {}
    for status in STATUSES:
        for path in sorted((folder / status).glob("*.md")) if (folder / status).is_dir() else []:
            where = f"{status}/{path.name}"
            try:
                number, values, created, updated = read_issue(path, status)
                checked = {**kb.issues.checked(values), "blocked_by": values["blocked_by"]}
                versions.setdefault(number, []).append((where, checked, created, updated))
            except BadFile as exc:
                report.skipped.append(Skipped(where, str(exc)))
            except Invalid as exc:
                report.skipped.append(Skipped(where, exc.message))
    found = {}
    for number, copies in versions.items():
        # The same id in two columns: the original moved a card by writing the new file before deleting the old.
        *older, newest = sorted(copies, key=lambda c: c[3])
        report.skipped += [Skipped(c[0], f"ISSUE_{number} is also in {newest[0]}, which is newer") for c in older]
        found[number] = newest
    goal = _read_goal(kb, folder / "GOAL.md", report)
    with kb.store.transaction() as db:
        waits: dict[int, list[str]] = {}
        for number in sorted(found):
            _, values, created, updated = found[number]
            if kb.issues.exists(db, number):
                report.already_present.append(f"ISSUE_{number}")
                continue
            waits[number] = values.pop("blocked_by")
            kb.issues.insert(db, values, created, updated, number)
            report.added.append(f"ISSUE_{number}")
        for number, blocker_ids in waits.items():  # once every issue is in, so any may wait on any
            try:
                replace_blockers(db, number, [issue_number(i, "blockedBy") for i in blocker_ids])
            except (Invalid, NotFound) as exc:
                report.skipped.append(Skipped(found[number][0], f"its blockedBy is left out: {exc.message}"))
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


def _read_goal(kb: KnowledgeBase, path: Path, report: ImportReport) -> tuple[dict[str, Any], str, str] | None:
    """The milestone's checked columns and times from GOAL.md, or None (reported) when it cannot be used."""
    if not path.is_file():
        return None
    try:
        meta, body = split_front_matter(path)
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


def export_folder(kb: KnowledgeBase, folder: Path) -> dict[str, Any]:
    """Write every issue and the milestone to `folder` in the original's layout.

    An issue's file left in another status folder (the card moved) is removed; no other file is touched.
    """
    if not folder.is_absolute():
        raise Invalid(f"The path {str(folder)[:200]!r} must be absolute.", "path")
    written: list[str] = []
    keep: set[Path] = set()
    for row in kb.issues.export_rows():
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
            if row[column] is not None:
                meta[key] = _Quoted(row[column]) if column == "assigned_at" else row[column]
        if row["blocked_by"]:
            meta["blockedBy"] = row["blocked_by"]
        meta.update({k: v for k, v in row["extra"].items() if k not in meta})
        body = f"# {row['title']}\n\n{row['content']}".rstrip()
        path = folder / row["status"] / f"{row['id']}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _front_matter(meta, body), mode=0o644)
        keep.add(path)
        written.append(f"{row['status']}/{path.name}")
    # A card that moved leaves its old file behind in the column it left: remove exactly those files.
    removed = []
    for path in sorted(keep):
        for status in STATUSES:
            old = folder / status / path.name
            if old != path and old.is_file():
                old.unlink()
                removed.append(f"{status}/{path.name}")
    milestone = kb.milestone.get()
    if milestone is not None:
        extra = kb.milestone.extra()
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
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "GOAL.md", _front_matter(meta, milestone["description"]), mode=0o644)
        written.append("GOAL.md")
    return {"written": written, "removed": removed}
