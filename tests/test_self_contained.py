"""The repository explains itself: no file cites a document outside it, and every pointer into
docs/ARCHITECTURE.md names a section that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

# Documents that live outside the repository (the design notes it was built from, the issue tracker).
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\bDESIGN" + r"(\.md)?\s*§",
            r"\bDESIGN" + r"\.md\b",
            r"\bnotes" + r"(\.md)?\s*§",
            r"\bSTYLE" + r"\.md\b",
            r"/work/" + r"shared\b",
            r"\(issues? " + r"\d+",
            r"\bissue " + r"\d+'s\b",
        ]
    )
)
POINTER = re.compile(r'ARCHITECTURE\.md, "([^"]+)"')


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [ROOT / name for name in listed.decode().split("\0") if name]
    return [f for f in files if f.is_file() and f.suffix not in {".png", ".ico", ".icns"}]


def texts() -> list[tuple[Path, str]]:
    found = []
    for path in repository_files():
        try:
            found.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # a binary file cites nothing
    return found


def test_no_file_cites_a_document_outside_the_repository() -> None:
    citations = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for path, text in texts()
        for match in OUTSIDE.finditer(text)
    ]
    assert not citations, "these point outside the repository; point at docs/ARCHITECTURE.md:\n" + "\n".join(citations)


def test_every_pointer_into_the_architecture_names_one_of_its_sections() -> None:
    headings = set(re.findall(r"^#+ (.+)$", ARCHITECTURE.read_text(encoding="utf-8"), re.M))
    pointers = {(path.relative_to(ROOT), name) for path, text in texts() for name in POINTER.findall(text)}
    assert pointers, "the code points at no section at all: the pattern is wrong"
    dangling = sorted(f"{path}: {name!r}" for path, name in pointers if name not in headings)
    assert not dangling, f"no such section in docs/ARCHITECTURE.md: {dangling}"
