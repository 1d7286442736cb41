"""The issue board and the milestone (core/issues.py, core/milestone.py) through the real WebSocket API.

Each fault of the original Murmuration (docs/ARCHITECTURE.md, "The original's faults", 6–9) has its own test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.contract import INVALID_PARAMS, NOT_FOUND
from murmuration.server.lifecycle import RunningInstance

EVENT_TIMEOUT = 10.0


async def record(client: InstanceClient, title: str, **params: Any) -> dict[str, Any]:
    issue: dict[str, Any] = await client.call("record_issue", {"title": title, **params})
    return issue


async def listed(client: InstanceClient, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("list_issues", params)
    return result


async def refused(client: InstanceClient, method: str, params: dict[str, Any]) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    return caught.value


async def next_event(client: InstanceClient, topic: str) -> dict[str, Any]:
    """The next event of `topic` (others are skipped), or a failure after EVENT_TIMEOUT."""
    while True:
        event = await asyncio.wait_for(client.next_event(), EVENT_TIMEOUT)
        if event.get("topic") == topic:
            return event


# --- record, get, list, update, delete ---------------------------------------------------------------------------


async def test_record_then_get_gives_back_every_field(instance: RunningInstance, client: InstanceClient) -> None:
    made = await record(client, "  Crash on start  ", content="Steps:\n\n1. run", tags=["bug", "cli"], priority="high")
    assert made["id"] == "ISSUE_1"
    assert made["title"] == "Crash on start"
    assert made["web_url"] == f"{instance.url}#/issues/ISSUE_1"
    got = await client.call("get_issue", {"issue_id": "ISSUE_1"})
    assert got == made
    assert got["content"] == "Steps:\n\n1. run"
    assert got["status"] == "open"
    assert got["tags"] == ["bug", "cli"]
    assert got["created_at"] == got["updated_at"]


async def test_record_without_optional_fields_uses_the_defaults(client: InstanceClient) -> None:
    made = await record(client, "Bare")
    assert (made["content"], made["status"], made["priority"], made["tags"]) == ("", "open", "medium", [])
    assert (made["assignee"], made["due_date"], made["related_ids"]) == (None, None, [])


async def test_list_is_newest_first_with_a_total(client: InstanceClient) -> None:
    for n in range(5):
        await record(client, f"Issue {n}")
    result = await listed(client, limit=3)
    assert [i["title"] for i in result["issues"]] == ["Issue 4", "Issue 3", "Issue 2"]
    assert result["total"] == 5
    assert result["web_url"].endswith("#/issues")
    page = await listed(client, limit=3, offset=3)
    assert [i["title"] for i in page["issues"]] == ["Issue 1", "Issue 0"]


async def test_update_changes_only_the_fields_given(client: InstanceClient) -> None:
    made = await record(client, "Original", content="first", tags=["a"], priority="low")
    updated = await client.call(
        "update_issue",
        {
            "issue_id": made["id"],
            "content": "second",
            "assignee": "ben",
            "due_date": "2026-12-31",
            "related_ids": ["ISSUE_7"],
        },
    )
    assert updated["title"] == "Original"
    assert updated["content"] == "second"
    assert updated["tags"] == ["a"]
    assert updated["priority"] == "low"
    assert (updated["assignee"], updated["due_date"], updated["related_ids"]) == ("ben", "2026-12-31", ["ISSUE_7"])
    assert updated["updated_at"] >= made["updated_at"]
    assert updated["created_at"] == made["created_at"]
    assert await client.call("get_issue", {"issue_id": made["id"]}) == updated


async def test_update_replaces_the_tags_and_the_tag_filter_follows(client: InstanceClient) -> None:
    made = await record(client, "Tagged", tags=["old", "keep"])
    await client.call("update_issue", {"issue_id": made["id"], "tags": ["keep", "new"]})
    assert (await listed(client, tags=["old"]))["total"] == 0
    assert [i["id"] for i in (await listed(client, tags=["new", "keep"]))["issues"]] == [made["id"]]


async def test_update_with_an_unknown_field_is_refused_naming_it(client: InstanceClient) -> None:
    made = await record(client, "Fixed fields")
    error = await refused(client, "update_issue", {"issue_id": made["id"], "colour": "red"})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "colour"


async def test_delete_removes_the_issue(client: InstanceClient) -> None:
    made = await record(client, "Short-lived")
    answer = await client.call("delete_issue", {"issue_id": made["id"]})
    assert answer["deleted"] == made["id"]
    assert answer["title"] == "Short-lived"
    error = await refused(client, "get_issue", {"issue_id": made["id"]})
    assert error.code == NOT_FOUND
    assert error.data == {"field": "issue_id"}
    assert (await listed(client))["total"] == 0
    again = await refused(client, "delete_issue", {"issue_id": made["id"]})
    assert again.code == NOT_FOUND


# --- the original's faults -------------------------------------------------------------------------------------


async def test_update_drops_title_fault_a_status_only_update_keeps_the_title(client: InstanceClient) -> None:
    made = await record(client, "Keep this title", content="The body.")
    for status in ("in-progress", "completed", "archived", "open"):
        updated = await client.call("update_issue", {"issue_id": made["id"], "status": status})
        assert updated["title"] == "Keep this title"
        assert updated["content"] == "The body."
    got = await client.call("get_issue", {"issue_id": made["id"]})
    assert (got["title"], got["content"]) == ("Keep this title", "The body.")


async def test_update_drops_title_fault_a_title_only_update_does_not_stack_headings(client: InstanceClient) -> None:
    made = await record(client, "Old title", content="The body.")
    updated = await client.call("update_issue", {"issue_id": made["id"], "title": "New title"})
    assert updated["title"] == "New title"
    assert updated["content"] == "The body."  # not "# Old title\n\nThe body."
    updated = await client.call("update_issue", {"issue_id": made["id"], "priority": "high", "tags": ["x"]})
    assert updated["title"] == "New title"


@pytest.mark.parametrize("priority", ["low", "medium", "high"])
async def test_get_issue_priority_fault_get_issue_returns_the_real_priority(
    client: InstanceClient, priority: str
) -> None:
    made = await record(client, f"A {priority} one", priority=priority)
    assert (await client.call("get_issue", {"issue_id": made["id"]}))["priority"] == priority
    other = {"low": "high", "medium": "low", "high": "low"}[priority]
    await client.call("update_issue", {"issue_id": made["id"], "priority": other})
    assert (await client.call("get_issue", {"issue_id": made["id"]}))["priority"] == other


async def test_list_limits_before_filtering_fault_list_issues_filters_before_it_limits(
    client: InstanceClient,
) -> None:
    # The 30 newest are all open: the original looked at the newest `limit` issues, then filtered them away.
    for n in range(30):
        await record(client, f"Done {n}", status="completed")
    for n in range(30):
        await record(client, f"Todo {n}")
    result = await listed(client, status="completed", limit=10)
    assert len(result["issues"]) == 10
    assert all(i["status"] == "completed" for i in result["issues"])
    assert result["total"] == 30
    assert [i["title"] for i in result["issues"]] == [f"Done {n}" for n in range(29, 19, -1)]
    everything = await listed(client, status="completed", limit=100)
    assert len(everything["issues"]) == 30


async def test_list_limits_before_filtering_fault_every_filter_applies_before_the_limit(
    client: InstanceClient,
) -> None:
    for n in range(25):
        await record(client, f"needle {n}", tags=["rare"], priority="high")
    for n in range(25):
        await record(client, f"hay {n}", tags=["common"], priority="low")
    for params in ({"tags": ["rare"]}, {"priority": "high"}, {"text": "needle"}):
        result = await listed(client, limit=5, **params)
        assert len(result["issues"]) == 5, params
        assert result["total"] == 25, params
        assert all(i["title"].startswith("needle") for i in result["issues"]), params


async def test_duplicate_ids_fault_two_writers_never_get_the_same_new_id(instance: RunningInstance) -> None:
    async with (
        await InstanceClient.connect(instance.url, instance.token) as first,
        await InstanceClient.connect(instance.url, instance.token) as second,
    ):
        made = await asyncio.gather(
            *(record(first, f"first {n}") for n in range(100)),
            *(record(second, f"second {n}") for n in range(100)),
        )
        ids = [m["id"] for m in made]
        assert len(set(ids)) == 200
        titles = {m["id"]: m["title"] for m in made}
        stored = (await listed(first, limit=1000))["issues"]
        assert {i["id"]: i["title"] for i in stored} == titles  # nobody overwrote anybody


async def test_duplicate_ids_fault_a_deleted_id_is_never_given_again(client: InstanceClient) -> None:
    await record(client, "one")
    highest = await record(client, "two")
    await client.call("delete_issue", {"issue_id": highest["id"]})
    after = await record(client, "three")
    assert after["id"] == "ISSUE_3"
    error = await refused(client, "get_issue", {"issue_id": highest["id"]})
    assert error.code == NOT_FOUND


async def test_status_change_fault_a_status_change_moves_the_card(client: InstanceClient) -> None:
    made = await record(client, "Moving card")
    await record(client, "Stays open")
    await client.call("update_issue", {"issue_id": made["id"], "status": "in-progress"})
    open_ids = [i["id"] for i in (await listed(client, status="open"))["issues"]]
    assert made["id"] not in open_ids
    assert open_ids == ["ISSUE_2"]
    moving = (await listed(client, status="in-progress"))["issues"]
    assert [i["id"] for i in moving] == [made["id"]]
    await client.call("update_issue", {"issue_id": made["id"], "status": "completed"})
    assert (await listed(client, status="in-progress"))["total"] == 0
    assert [i["id"] for i in (await listed(client, status="completed"))["issues"]] == [made["id"]]


# --- filters -------------------------------------------------------------------------------------------------


async def test_the_tags_filter_means_all_of_the_tags(client: InstanceClient) -> None:
    await record(client, "only a", tags=["a"])
    await record(client, "a and b", tags=["a", "b"])
    await record(client, "only b", tags=["b"])
    await record(client, "a, b and c", tags=["c", "b", "a"])
    both = await listed(client, tags=["a", "b"])
    assert sorted(i["title"] for i in both["issues"]) == ["a and b", "a, b and c"]
    assert both["total"] == 2
    assert (await listed(client, tags=["a", "a", "b"]))["total"] == 2  # a repeated tag is not a second one
    assert (await listed(client, tags=["a", "b", "c"]))["total"] == 1
    assert (await listed(client, tags=["a", "missing"]))["total"] == 0


async def test_filters_combine(client: InstanceClient) -> None:
    await record(client, "fix the login page", tags=["web"], priority="high")
    await record(client, "fix the login api", tags=["api"], priority="high")
    await record(client, "login docs", tags=["web"], priority="low", status="completed")
    result = await listed(client, status="open", tags=["web"], priority="high", text="LOGIN")
    assert [i["title"] for i in result["issues"]] == ["fix the login page"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'; DROP TABLE issues; --", ["'; DROP TABLE issues; -- as a title"]),
        ("%", ["100% done"]),
        ("_", ["snake_case name"]),
        ("\\", ["C:\\path"]),
        ('" OR 1=1 --', []),
        ("*", []),
        ("[a-z]", []),
    ],
)
async def test_the_text_filter_matches_sql_looking_strings_literally(
    client: InstanceClient, text: str, expected: list[str]
) -> None:
    for title in ("'; DROP TABLE issues; -- as a title", "100% done", "snake_case name", "C:\\path", "plain words"):
        await record(client, title)
    result = await listed(client, text=text)
    assert sorted(i["title"] for i in result["issues"]) == expected
    assert result["total"] == len(expected)
    assert (await listed(client))["total"] == 5  # the table is still there, whole


async def test_the_text_filter_searches_the_content_too(client: InstanceClient) -> None:
    await record(client, "Vague title", content="The stack trace mentions sqlite3.OperationalError.")
    await record(client, "Other")
    result = await listed(client, text="operationalerror")
    assert [i["title"] for i in result["issues"]] == ["Vague title"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"priority": "urgent"}, "priority"),
        ({"tags": ["has space"]}, "tags.0"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"text": "x" * 201}, "text"),
    ],
)
async def test_bad_list_parameters_are_refused_naming_the_field(
    client: InstanceClient, params: dict[str, Any], field: str
) -> None:
    error = await refused(client, "list_issues", params)
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "status": "done"}, "status"),
        ({"title": "ok", "tags": ["no spaces allowed"]}, "tags.0"),
        ({"title": "ok", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "ok", "tags": ["x" * 51]}, "tags.0"),
    ],
)
async def test_bad_issues_are_refused_naming_the_field_and_nothing_is_written(
    client: InstanceClient, params: dict[str, Any], field: str
) -> None:
    error = await refused(client, "record_issue", params)
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == field
    assert (await listed(client))["total"] == 0


# --- events --------------------------------------------------------------------------------------------------


async def test_a_subscriber_gets_issue_events_for_create_update_and_delete(instance: RunningInstance) -> None:
    async with (
        await InstanceClient.connect(instance.url, instance.token) as watcher,
        await InstanceClient.connect(instance.url, instance.token) as writer,
    ):
        await watcher.subscribe(["issue"])
        made = await record(writer, "Watched")
        created = await next_event(watcher, "issue")
        assert (created["action"], created["id"]) == ("created", made["id"])
        assert created["issue"]["title"] == "Watched"

        await writer.call("update_issue", {"issue_id": made["id"], "status": "completed"})
        updated = await next_event(watcher, "issue")
        assert (updated["action"], updated["id"]) == ("updated", made["id"])
        assert updated["issue"]["status"] == "completed"
        assert updated["previous_status"] == "open"

        await writer.call("delete_issue", {"issue_id": made["id"]})
        deleted = await next_event(watcher, "issue")
        assert (deleted["action"], deleted["id"]) == ("deleted", made["id"])


async def test_a_refused_change_sends_no_event(instance: RunningInstance, client: InstanceClient) -> None:
    async with await InstanceClient.connect(instance.url, instance.token) as watcher:
        await watcher.subscribe(["issue"])
        await refused(client, "record_issue", {"title": "bad\x00title"})
        await refused(client, "update_issue", {"issue_id": "ISSUE_9", "status": "open"})
        await record(client, "the first event")
        event = await next_event(watcher, "issue")
        assert event["issue"]["title"] == "the first event"


# --- milestone -----------------------------------------------------------------------------------------------


async def test_get_milestone_before_any_is_set_is_null(instance: RunningInstance, client: InstanceClient) -> None:
    result = await client.call("get_milestone")
    assert result == {"milestone": None, "web_url": instance.url}


async def test_the_first_set_milestone_needs_a_title(client: InstanceClient) -> None:
    error = await refused(client, "set_milestone", {"progress": 10, "description": "no title"})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "title"
    assert (await client.call("get_milestone"))["milestone"] is None


async def test_set_milestone_then_get_it(client: InstanceClient) -> None:
    params = {
        "title": "Ship 1.0",
        "description": "Everything on the board done.",
        "targetDate": "2026-12-31",
        "progress": 20,
        "relatedIssues": ["ISSUE_1", "ISSUE_2"],
    }
    result = await client.call("set_milestone", params)
    milestone = result["milestone"]
    assert milestone["title"] == "Ship 1.0"
    assert milestone["description"] == "Everything on the board done."
    assert milestone["target_date"] == "2026-12-31"
    assert milestone["progress"] == 20
    assert milestone["related_issues"] == ["ISSUE_1", "ISSUE_2"]
    assert (await client.call("get_milestone"))["milestone"] == milestone


async def test_a_partial_set_milestone_keeps_the_other_fields(client: InstanceClient) -> None:
    first = (
        await client.call(
            "set_milestone",
            {"title": "Ship 1.0", "description": "All done.", "targetDate": "2026-12-31", "relatedIssues": ["ISSUE_4"]},
        )
    )["milestone"]
    second = (await client.call("set_milestone", {"progress": 55}))["milestone"]
    assert second["progress"] == 55
    for key in ("title", "description", "target_date", "related_issues", "created_at"):
        assert second[key] == first[key], key
    third = (await client.call("set_milestone", {"title": "Ship 1.1"}))["milestone"]
    assert (third["title"], third["progress"], third["description"]) == ("Ship 1.1", 55, "All done.")
    cleared = (await client.call("set_milestone", {"targetDate": None}))["milestone"]
    assert cleared["target_date"] is None
    assert cleared["title"] == "Ship 1.1"


@pytest.mark.parametrize("progress", [0, 100])
async def test_progress_accepts_its_bounds(client: InstanceClient, progress: int) -> None:
    result = await client.call("set_milestone", {"title": "Bounds", "progress": progress})
    assert result["milestone"]["progress"] == progress


@pytest.mark.parametrize("progress", [-1, 101, 1000, 12.5, True, "50"])
async def test_progress_outside_0_to_100_is_refused(client: InstanceClient, progress: object) -> None:
    await client.call("set_milestone", {"title": "Bounds", "progress": 30})
    error = await refused(client, "set_milestone", {"progress": progress})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "progress"
    assert (await client.call("get_milestone"))["milestone"]["progress"] == 30


@pytest.mark.parametrize("date", ["tomorrow", "31/12/2026", "2026-1-1", "2026-12-31T00:00:00Z", ""])
async def test_a_bad_target_date_is_refused(client: InstanceClient, date: str) -> None:
    await client.call("set_milestone", {"title": "Dated", "targetDate": "2026-06-30"})
    error = await refused(client, "set_milestone", {"targetDate": date})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] in ("targetDate", "target_date")
    assert (await client.call("get_milestone"))["milestone"]["target_date"] == "2026-06-30"


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "2026-00-10", "2026-04-31"])
async def test_a_target_date_that_is_not_on_the_calendar_is_refused(client: InstanceClient, date: str) -> None:
    await client.call("set_milestone", {"title": "Dated", "targetDate": "2026-06-30"})
    error = await refused(client, "set_milestone", {"targetDate": date})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] in ("targetDate", "target_date")


async def test_a_due_date_that_is_not_on_the_calendar_is_refused(client: InstanceClient) -> None:
    made = await record(client, "Due")
    error = await refused(client, "update_issue", {"issue_id": made["id"], "due_date": "2026-02-30"})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "due_date"


async def test_a_milestone_description_over_2000_characters_is_refused(client: InstanceClient) -> None:
    error = await refused(client, "set_milestone", {"title": "Long", "description": "x" * 2001})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "description"
    assert (await client.call("get_milestone"))["milestone"] is None


async def test_set_milestone_sends_a_milestone_event(instance: RunningInstance, client: InstanceClient) -> None:
    async with await InstanceClient.connect(instance.url, instance.token) as watcher:
        await watcher.subscribe(["milestone"])
        await client.call("set_milestone", {"title": "Watched goal", "progress": 5})
        event = await next_event(watcher, "milestone")
        assert event["action"] == "updated"
        assert event["milestone"]["title"] == "Watched goal"
