"""The original Murmuration's tool names that were merged into others: still answered, never listed.

These are names no operation here has. An operation of this instance merged into another tool says so in the
operation table (`merged_into`) and answers by its own name, with no translation.

Prompts written for the original keep working at no cost in tools/list: each old call becomes the call of the
tool that does its job now, its arguments renamed; arguments that meant nothing here (a vector-similarity
threshold, a sort order) are dropped, and any other unknown one is refused by the tool like any unknown field.
"""

from __future__ import annotations

from typing import Any

# old tool → (the tool now, {old argument: new argument}, arguments dropped)
MERGED: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "search_fragments_by_title": ("search_fragments", {"title": "query"}, ()),
    "search_fragments_similar": ("search_fragments", {}, ("threshold",)),
    "search_fragments_advanced": (
        "list_fragments",
        {"textSearch": "search", "similarTo": "search"},
        ("similarityThreshold", "searchFields", "filterMode", "sortBy", "sortOrder"),
    ),
    "get_fragment_with_links": ("get_fragment", {"fragmentId": "id"}, ()),
    "traverse_fragment_links": ("get_fragment_links", {"id": "fragment_id"}, ("maxDepth", "depth")),
    "get_fragment_stats": ("list_fragments", {}, ()),
}


def translated(name: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool and arguments an old call means today; any other call unchanged."""
    if name not in MERGED:
        return name, arguments
    tool, renames, dropped = MERGED[name]
    now: dict[str, Any] = {}
    for key, value in arguments.items():
        if key in dropped:
            continue
        new = renames.get(key, key)
        now.setdefault(new, value)
    if name == "get_fragment_stats":
        now = {"limit": 1}  # its answer is the count: list_fragments' total
    return tool, now
