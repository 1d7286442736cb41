"""The dashboard's files, read once at start into a fixed table of URL paths.

No request path ever reaches the file system, so traversal cannot work: a path is in
the table or it is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}


PRELOAD_MARKER = b"<!-- modulepreload:"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def dashboard_root() -> Traversable:
    """The folder of dashboard files, whether installed, editable or frozen."""
    return resources.files("murmuration.resources") / "dashboard"


def load_assets() -> dict[str, Asset]:
    """Map `/assets/<relative path>` to each file of the dashboard, and `/` to its index page."""
    root = dashboard_root()
    table: dict[str, Asset] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rpartition(".")[2] if "." in entry.name else ""
            if suffix in CONTENT_TYPES:
                table[f"/assets/{prefix}{entry.name}"] = Asset(entry.read_bytes(), CONTENT_TYPES[suffix])

    walk(root, "")
    index = table.get("/assets/index.html")
    if index is not None:
        modules = sorted(path for path, asset in table.items() if path.endswith(".js") and path != "/assets/app.js")
        table["/assets/index.html"] = Asset(with_preloads(index.body, modules), index.content_type)
    return table


def with_preloads(page: bytes, modules: list[str]) -> bytes:
    """`page` with a modulepreload link for each of `modules` where it says so.

    Generated rather than written by hand, so a new module (a new view, say) is fetched at once with the others
    without anyone remembering to list it.
    """
    head, marker, tail = page.partition(PRELOAD_MARKER)
    if not marker:
        return page
    end = tail.index(b"-->") + len(b"-->")
    links = "".join(f'<link rel="modulepreload" href="{path}">\n' for path in modules).encode()
    return head + links + tail[end:].lstrip(b"\n")
