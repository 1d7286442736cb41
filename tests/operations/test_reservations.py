"""Reservations over real sockets: all or nothing, named refusals, and an end tied to the holder's life."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from murmuration.client import InstanceClient
from murmuration.server.lifecycle import RunningInstance
from tests.operations.conftest import Connect, event, refused

INVALID_PARAMS = -32602
NOT_FOUND = -32004
CONFLICT = -32009


def ended(reservation_id: str, why: str) -> Any:
    return lambda e: (
        e["topic"] == "reservation"
        and e["action"] == "ended"
        and e["reservation"]["id"] == reservation_id
        and e["why"] == why
    )


async def held(client: InstanceClient) -> list[tuple[str, list[str]]]:
    listing = await client.call("list_reservations")
    return [(r["holder"], r["resources"]) for r in listing["reservations"]]


async def test_a_clash_refuses_the_whole_request_and_names_each_holder(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    mine = await alice.call("reserve", {"resources": ["src/db/**"], "reason": "migrating the schema"})
    assert (mine["holder"], mine["exclusive"], mine["resources"]) == ("alice", True, ["src/db/**"])
    error = await refused(bob, "reserve", {"resources": ["docs/**", "src/db/schema.sql"]})
    assert error.code == CONFLICT
    assert "alice" in error.message
    assert "migrating the schema" in error.message
    assert error.data["field"] == "resources"
    [clash] = error.data["conflicts"]
    assert (clash["resource"], clash["held"], clash["holder"], clash["reservation"]) == (
        "src/db/schema.sql",
        "src/db/**",
        "alice",
        mine["id"],
    )
    assert await held(bob) == [("alice", ["src/db/**"])]  # docs/** was not granted either
    assert (await bob.call("reserve", {"resources": ["docs/**"]}))["holder"] == "bob"


async def test_shared_reservations_coexist_but_not_with_an_exclusive_one(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.call("reserve", {"resources": ["migrations"], "exclusive": False})
    await bob.call("reserve", {"resources": ["migrations/0001.sql"], "exclusive": False})
    error = await refused(carol, "reserve", {"resources": ["migrations"]})
    assert {c["holder"] for c in error.data["conflicts"]} == {"alice", "bob"}
    # A name with a colon is only itself: port:5432 and port:5433 are different, and ** covers neither.
    await carol.call("reserve", {"resources": ["port:5432"]})
    await alice.call("reserve", {"resources": ["port:5433", "lib/**"]})
    assert (await refused(bob, "reserve", {"resources": ["port:5432"]})).data["conflicts"][0]["holder"] == "carol"


async def test_a_session_never_clashes_with_itself(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.call("reserve", {"resources": ["src/**"]})
    await alice.call("reserve", {"resources": ["src/app.py"], "reason": "editing"})
    checked = await alice.call("check_paths", {"paths": ["src/app.py"]})
    assert checked["free"] is True


async def test_check_paths_tells_who_holds_what_would_clash(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.call("reserve", {"resources": ["src/**/*.py"], "exclusive": False, "reason": "reading"})
    checked = await bob.call("check_paths", {"paths": ["src/db/models.py", "README.md"]})
    assert checked["free"] is False
    models, readme = checked["paths"]
    assert [c["holder"] for c in models["held_by"]] == ["alice"]
    assert readme["held_by"] == []
    shared = await bob.call("check_paths", {"paths": ["src/db/models.py"], "exclusive": False})
    assert shared["free"] is True  # shared use next to a shared reservation


async def test_release_ends_ones_own_and_refuses_anothers(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    first = await alice.call("reserve", {"resources": ["a"]})
    await alice.call("reserve", {"resources": ["b"]})
    error = await refused(bob, "release", {"reservation_id": first["id"]})
    assert (error.code, error.data["field"], error.data["holder"]) == (CONFLICT, "reservation_id", "alice")
    error = await refused(bob, "release", {"reservation_id": "R999"})
    assert (error.code, error.data["field"]) == (NOT_FOUND, "reservation_id")
    assert (await alice.call("release", {"reservation_id": first["id"]}))["released"] == [first["id"]]
    assert len((await alice.call("release"))["released"]) == 1
    assert await held(bob) == []


async def test_a_reservation_ends_with_its_session(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.subscribe(["reservation"])
    mine = await alice.call("reserve", {"resources": ["src/**"]})
    await alice.close()
    await event(bob, ended(mine["id"], "session ended"))
    assert (await bob.call("reserve", {"resources": ["src/**"]}))["holder"] == "bob"


async def test_a_reservation_ends_at_its_ttl(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.subscribe(["reservation"])
    mine = await alice.call("reserve", {"resources": ["src/**"], "ttl": 0.2})
    assert mine["expires_at"] > mine["granted_at"]
    await event(alice, ended(mine["id"], "expired"))
    assert await held(alice) == []


async def test_a_reservation_for_a_process_ends_when_the_process_exits(
    connect: Connect, instance: RunningInstance, tmp_path: Path
) -> None:
    alice = await connect("alice")
    await alice.subscribe(["reservation"])
    go = tmp_path / "go"
    waiter = f"import pathlib, time\nwhile not pathlib.Path({str(go)!r}).exists(): time.sleep(0.02)"
    process = await alice.call("start_process", {"command": [sys.executable, "-c", waiter], "immediate": True})
    mine = await alice.call("reserve", {"resources": ["build/**"], "for_process": process["id"]})
    assert mine["for_process"] == process["id"]
    go.touch()  # the process exits by itself, with code 0
    await event(alice, ended(mine["id"], "process ended"))
    assert (await alice.call("get_process_status", {"process_id": process["id"]}))["state"] == "stopped"
    error = await refused(alice, "reserve", {"resources": ["build/**"], "for_process": process["id"]})
    assert (error.code, error.data["field"]) == (CONFLICT, "for_process")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"resources": []}, "resources"),
        ({"resources": ["../**"]}, "resources.0"),
        ({"resources": ["src/**", "src/../../etc"]}, "resources.1"),
        ({"resources": ["/etc/passwd"]}, "resources.0"),
        ({"resources": ["C:/Windows"]}, "resources.0"),
        ({"resources": ["  "]}, "resources.0"),
        ({"resources": ["src/\x1b[31m"]}, "resources.0"),
        ({"resources": ["src\\db"]}, "resources.0"),
        ({"resources": ["a/" * 70]}, "resources.0"),
        ({"resources": ["x"], "ttl": 0}, "ttl"),
        ({"resources": ["x"], "ttl": -5}, "ttl"),
        ({"resources": ["x"], "ttl": 86_401}, "ttl"),
        ({"resources": ["x"], "reason": "bell\x07"}, "reason"),
        ({"resources": ["x"], "for_process": "nope"}, "for_process"),
        ({"resources": "src/**"}, "resources"),
        ({"resources": ["x"], "exclusive": "yes"}, "exclusive"),
    ],
)
async def test_bad_reservations_are_refused_naming_the_field_and_grant_nothing(
    connect: Connect, params: dict[str, Any], field: str
) -> None:
    alice = await connect("alice")
    error = await refused(alice, "reserve", params)
    assert error.data["field"] == field, error.message
    assert error.code in (INVALID_PARAMS, NOT_FOUND)
    assert await held(alice) == []
    error = (
        await refused(alice, "check_paths", {"paths": params["resources"]}) if field.startswith("resources") else None
    )
    if error is not None:
        assert error.data["field"] == field.replace("resources", "paths"), error.message
