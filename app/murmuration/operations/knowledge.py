"""Knowledge operations: typed fragments, their full-text search and the links between them."""

from __future__ import annotations

from typing import Any

from murmuration.core import fields
from murmuration.core.errors import Invalid
from murmuration.core.fragments import DIRECTIONS, LINK_TYPES, STATUSES, TYPES, FragmentFilter
from murmuration.operations.context import InstanceContext
from murmuration.operations.issues import OFFSET, PRIORITY, TAGS, TITLE
from murmuration.operations.table import (
    ADDS,
    INTEGER,
    OBJECTS,
    READS,
    REPLACES,
    STRING,
    UNLISTED,
    OperationTable,
    alone,
    items_by_id,
    params_schema,
    result_schema,
)

FRAGMENT_ID = {"type": "string", "minLength": 1, "maxLength": 100, "description": "A fragment's id."}
TYPE = {"type": "string", "enum": list(TYPES), "description": "Kind."}
STATUS = {"type": "string", "enum": list(STATUSES), "description": "Life stage."}
BODY = {"type": "string", "minLength": 1, "maxLength": fields.MAX_TEXT, "description": "Markdown."}
METADATA = {"type": "object", "maxProperties": 50, "description": "Free-form facts.", UNLISTED: True}
RELATED = {
    "type": "array",
    "items": {"type": "string", "maxLength": 100},
    "maxItems": 100,
    "description": "Related fragment or issue ids.",
    UNLISTED: True,  # links (update_fragment link_to) say how two fragments relate
}
LINK_TYPE = {"type": "string", "enum": list(LINK_TYPES), "description": "What the link means."}
FRAGMENT_SUMMARY = {"id": STRING, "title": STRING, "type": STRING}
FRAGMENT = result_schema(FRAGMENT_SUMMARY)
FRAGMENT_ITEM = {"type": "object", "properties": FRAGMENT_SUMMARY, "required": list(FRAGMENT_SUMMARY)}
LINK = result_schema({"id": STRING, "source_id": STRING, "target_id": STRING, "link_type": STRING})
FRAGMENT_FIELDS = {
    "title": TITLE,
    "body": BODY,
    "type": TYPE,
    "tags": TAGS,
    "metadata": METADATA,
    "related_ids": RELATED,
    "priority": {**PRIORITY, UNLISTED: True},  # the original's field, kept for its data; nothing ranks by it
    "status": STATUS,
}


def _changes(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in FRAGMENT_FIELDS}


def deleted(ctx: InstanceContext, fragment_id: str) -> dict[str, Any]:
    """Delete a fragment and its links; the answer names it and counts them."""
    fragment = ctx.knowledge.fragments.delete(fragment_id)
    return {"deleted": fragment["id"], "links_deleted": fragment["links_deleted"], "web_url": ctx.web_url("knowledge")}


def declare(table: OperationTable) -> None:
    """Add the fragment and link operations to `table`."""

    def with_link(ctx: InstanceContext, fragment: dict[str, Any]) -> dict[str, Any]:
        return {**fragment, "web_url": ctx.web_url("knowledge", fragment["id"])}

    @table.operation(
        "record_fragment",
        "Record knowledge for agents to find with list_fragments.",
        params_schema(FRAGMENT_FIELDS, required=("title", "body", "type")),
        result=FRAGMENT,
        hints=ADDS,
    )
    async def record_fragment(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.knowledge.fragments.record(_changes(params), ctx.caller.name))

    @table.operation(
        "get_fragment",
        "Get one fragment by id.",
        params_schema({"id": FRAGMENT_ID}, required=("id",)),
        result=FRAGMENT,
        hints=READS,
        merged_into="list_fragments",
    )
    async def get_fragment(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.knowledge.fragments.get(params["id"]))

    @table.operation(
        "list_fragments",
        "Knowledge fragments, last updated first (best match first for a query).",
        params_schema(
            {
                "ids": {
                    "type": "array",
                    "items": FRAGMENT_ID,
                    "maxItems": 100,
                    "description": "Just these, whole.",
                },
                "query": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "Words to find (full text); each hit gets a snippet.",
                },
                "type": TYPE,
                "status": STATUS,
                "priority": {**PRIORITY, UNLISTED: True},
                "tags": TAGS,
                "search": {
                    "type": "string",
                    "maxLength": 200,
                    "description": "Text in the title or body, as typed.",
                    UNLISTED: True,
                },
                "links": {"type": "boolean", "description": "Add each one's links."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 200,
                    "default": 50,
                    "description": "At most (50).",
                },
                "offset": OFFSET,
            }
        ),
        result=result_schema({"fragments": {"type": "array", "items": FRAGMENT_ITEM}, "total": INTEGER}),
        hints=READS,
    )
    async def list_fragments(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if "ids" in params:
            alone(params, "ids", "links")
            fragments = items_by_id(params["ids"], ctx.knowledge.fragments.get)
            total = len(fragments)
        else:
            query = FragmentFilter(
                type=params.get("type"),
                status=params.get("status"),
                priority=params.get("priority"),
                tags=tuple(params.get("tags", ())),
                search=params.get("search"),
                limit=params.get("limit", 50),
                offset=params.get("offset", 0),
            )
            if "query" in params:
                hits, total = ctx.knowledge.fragments.ranked(params["query"], query)
                fragments = [{**h["fragment"], "score": h["score"], "snippet": h["snippet"]} for h in hits]
            else:
                fragments, total = ctx.knowledge.fragments.query(query)
        if params.get("links"):
            fragments = [{**f, "links": ctx.knowledge.fragments.links(f["id"], limit=100)} for f in fragments]
        return {
            "fragments": [with_link(ctx, f) for f in fragments],
            "total": total,
            "web_url": ctx.web_url("knowledge"),
        }

    @table.operation(
        "update_fragment",
        "Change the fields given. link_to adds a link, unlink removes one.",
        params_schema(
            {
                "id": FRAGMENT_ID,
                **FRAGMENT_FIELDS,
                "link_to": {**FRAGMENT_ID, "description": "Fragment to link to."},
                "link_type": {
                    **LINK_TYPE,
                    "description": "e.g. answers: it answers link_to.",
                },
                "unlink": {"type": "string", "minLength": 1, "maxLength": 300, "description": "A link id."},
                "delete": {"type": "boolean", "description": "Delete it and its links."},
            },
            required=("id",),
            dependentRequired={"link_to": ["link_type"], "link_type": ["link_to"]},
        ),
        result=result_schema(
            {**FRAGMENT_SUMMARY, "link": {"type": "object"}, "deleted": STRING}, *FRAGMENT_SUMMARY, "link", "deleted"
        ),
        hints=REPLACES,
    )
    async def update_fragment(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        fragments, fragment_id, changes = ctx.knowledge.fragments, params["id"], _changes(params)
        if params.get("delete"):
            alone(params, "delete", "id")
            return deleted(ctx, fragment_id)
        # Everything that could refuse the call is checked before the first write, so a refusal changes nothing.
        fragments.get(fragment_id)
        fragments.check(changes)
        if "link_to" in params:
            target = items_by_id([params["link_to"]], fragments.get, "link_to")[0]["id"]
            if target == fragment_id:
                raise Invalid("A fragment cannot link to itself; give another fragment's id.", "link_to")
        gone = fragments.link_by_id(params["unlink"], "unlink") if "unlink" in params else None
        if gone is not None and fragment_id not in (gone["source_id"], gone["target_id"]):
            raise Invalid(f"The link {gone['id']!r} is not one of this fragment's links.", "unlink")
        extra: dict[str, Any] = {}
        if gone is not None:
            extra["unlinked"] = fragments.unlink(gone["id"])["id"]
        if "link_to" in params:
            extra["link"] = fragments.link(fragment_id, params["link_to"], params["link_type"], existing_ok=True)
        fragment = fragments.update(fragment_id, changes, ctx.caller.name)
        return {**with_link(ctx, fragment), **extra}

    @table.operation(
        "delete_fragment",
        "Delete a fragment and every link to or from it.",
        params_schema({"id": FRAGMENT_ID}, required=("id",)),
        result=result_schema({"deleted": STRING, "links_deleted": INTEGER}),
        hints=REPLACES,
        merged_into="update_fragment",
    )
    async def delete_fragment(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return deleted(ctx, params["id"])

    @table.operation(
        "search_fragments",
        "Full-text search of fragment titles and bodies: every word must match (the last may be a "
        "prefix). Best first, each with a snippet marking matches **like this**.",
        params_schema(
            {
                "query": {"type": "string", "minLength": 1, "maxLength": 500, "description": "Words to find."},
                "type": TYPE,
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10, "description": "At most."},
            },
            required=("query",),
        ),
        result=result_schema({"results": OBJECTS, "query": STRING}),
        hints=READS,
        merged_into="list_fragments",
    )
    async def search_fragments(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        hits = ctx.knowledge.fragments.search(params["query"], params.get("type"), params.get("limit", 10))
        for hit in hits:
            hit["web_url"] = ctx.web_url("knowledge", hit["fragment"]["id"])
        return {"results": hits, "query": params["query"], "web_url": ctx.web_url("knowledge")}

    @table.operation(
        "create_fragment_link",
        "Link two fragments: 'answers' (an answer to a question), 'references', 'related' or 'supersedes'.",
        params_schema(
            {
                "source_id": FRAGMENT_ID,
                "target_id": FRAGMENT_ID,
                "link_type": LINK_TYPE,
                "metadata": METADATA,
            },
            required=("source_id", "target_id", "link_type"),
        ),
        result=LINK,
        hints=ADDS,
        merged_into="update_fragment",
    )
    async def create_fragment_link(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        link = ctx.knowledge.fragments.link(
            params["source_id"], params["target_id"], params["link_type"], params.get("metadata")
        )
        return {**link, "web_url": ctx.web_url("knowledge", link["source_id"])}

    @table.operation(
        "get_fragment_links",
        "List a fragment's links: outgoing, incoming or both, optionally of one type.",
        params_schema(
            {
                "fragment_id": FRAGMENT_ID,
                "direction": {
                    "type": "string",
                    "enum": list(DIRECTIONS),
                    "default": "both",
                    "description": "Links from it, to it, or both.",
                },
                "link_type": LINK_TYPE,
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50, "description": "At most."},
            },
            required=("fragment_id",),
        ),
        result=result_schema({"links": OBJECTS}),
        hints=READS,
        merged_into="list_fragments",
    )
    async def get_fragment_links(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        links = ctx.knowledge.fragments.links(
            params["fragment_id"], params.get("direction", "both"), params.get("link_type"), params.get("limit", 50)
        )
        return {"links": links, "web_url": ctx.web_url("knowledge", params["fragment_id"])}

    @table.operation(
        "delete_fragment_link",
        "Delete one link by its id.",
        params_schema(
            {"link_id": {"type": "string", "minLength": 1, "maxLength": 300, "description": "The link's id."}},
            required=("link_id",),
        ),
        result=result_schema({"deleted": STRING}),
        hints=REPLACES,
        merged_into="update_fragment",
    )
    async def delete_fragment_link(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        link = ctx.knowledge.fragments.unlink(params["link_id"])
        return {"deleted": link["id"], "web_url": ctx.web_url("knowledge", link["source_id"])}
