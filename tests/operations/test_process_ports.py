"""A port for every process that wants one: machine-wide leases through real instances and real
listening processes, `{port}` and `PORT`, fixed ports refused naming their holder, and discovered URLs."""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from murmuration import registry
from murmuration.client import InstanceClient, RpcError
from murmuration.core.port_leases import list_leases
from murmuration.server.lifecycle import RunningInstance, running_instance
from tests.conftest import port_block

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the commands are POSIX shell strings")

PY = shlex.quote(sys.executable)
CONFLICT = -32009
SERVE_ON_PORT = f"exec {PY} -m http.server $PORT --bind 127.0.0.1"


async def call(client: InstanceClient, method: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(method, params)
    return result


def bound_in(ports: range) -> socket.socket:
    """A socket bound to the first port of `ports` that is free."""
    for port in ports:
        candidate = socket.socket()
        try:
            candidate.bind(("127.0.0.1", port))
        except OSError:
            candidate.close()
            continue
        return candidate
    raise AssertionError(f"no port of {ports} is free")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].strip("/"))


@pytest.fixture
async def second(home: Path) -> AsyncIterator[tuple[RunningInstance, InstanceClient]]:
    """Another instance of the same user (the same base folder, so the same lease table)."""
    folder = registry.create("Second Instance", home)
    async with (
        running_instance(folder, port_range=range(0)) as live,
        await InstanceClient.connect(live.url, live.token) as connected,
    ):
        yield live, connected


async def test_port_true_sets_port_and_replaces_the_placeholder(client: InstanceClient) -> None:
    process = await call(client, "start_process", command="echo $PORT {port}", port=True, immediate=True)
    done = await call(client, "wait_for_process", process_id=process["id"], exit=True)
    page = await call(client, "get_process_logs", process_id=process["id"], log_type="stdout")
    port = done["port"]
    assert isinstance(port, int)
    assert [line["text"] for line in page["lines"]] == [f"{port} {port}"]


async def test_two_instances_each_starting_ten_at_once_get_twenty_distinct_ports_and_free_them(
    client: InstanceClient, second: tuple[RunningInstance, InstanceClient], home: Path
) -> None:
    other = second[1]
    starts = [
        call(c, "start_process", command=SERVE_ON_PORT, port=True, immediate=True, wait_for={"port": True})
        for c in (client, other)
        for _ in range(10)
    ]
    processes = await asyncio.gather(*starts)
    try:
        ports = [p["port"] for p in processes]
        assert len(set(ports)) == 20, ports
        for process in processes:
            assert process["wait"]["ready"] is True, process
            assert [port_of(url) for url in process["urls"]] == [process["port"]]  # each on its own PORT
        leases = list_leases(home)
        assert sorted(lease["port"] for lease in leases) == sorted(ports)
        assert all(lease["holder_alive"] for lease in leases)
    finally:
        owners = [client] * 10 + [other] * 10
        stops = [call(c, "stop_process", process_id=p["id"]) for c, p in zip(owners, processes, strict=True)]
        await asyncio.gather(*stops)
    assert list_leases(home) == []


async def test_a_fixed_port_leased_to_another_process_is_refused_naming_the_holder(
    client: InstanceClient, second: tuple[RunningInstance, InstanceClient]
) -> None:
    holder = await call(
        client, "start_process", command=SERVE_ON_PORT, port=True, immediate=True, title="web dev server"
    )
    try:
        with pytest.raises(RpcError) as caught:
            await call(second[1], "start_process", command="true", port=holder["port"])
        assert caught.value.code == CONFLICT
        assert caught.value.data["field"] == "port"
        assert holder["id"] in caught.value.message
        assert "web dev server" in caught.value.message
        assert (await call(second[1], "list_processes"))["total"] == 0  # nothing started, nothing recorded
    finally:
        await call(client, "stop_process", process_id=holder["id"])


async def test_a_fixed_port_held_by_another_program_is_refused(client: InstanceClient) -> None:
    # A port of this worker's own block (never a privileged one, never another worker's), away from the instance's
    # range (block 0) and the process leases' (block 9).
    with bound_in(port_block(3)) as outsider:
        outsider.listen()
        port = outsider.getsockname()[1]
        with pytest.raises(RpcError) as caught:
            await call(client, "start_process", command="true", port=port)
    assert caught.value.data["field"] == "port"
    assert "outside Murmuration" in caught.value.message


async def test_a_fixed_free_port_is_leased_and_passed(client: InstanceClient, home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await call(client, "start_process", command="echo $PORT; sleep 300", port=port, immediate=True)
    try:
        assert process["port"] == port
        assert [lease["port"] for lease in list_leases(home)] == [port]
    finally:
        await call(client, "stop_process", process_id=process["id"])


async def test_urls_are_found_for_the_whole_tree_without_asking_for_a_port(client: InstanceClient) -> None:
    """A shell that starts the server as its child, as `npm run dev` does."""
    process = await call(
        client,
        "start_process",
        command=f"{PY} -m http.server 0 --bind 127.0.0.1 & wait",
        immediate=True,
        wait_for={"port": True},
    )
    try:
        assert process["port"] is None
        assert process["wait"]["ready"] is True
        assert len(process["urls"]) == 1
        url = process["urls"][0]
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(url))
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert (await reader.read(12)).startswith(b"HTTP/1.0 200")
        writer.close()
    finally:
        stopped = await call(client, "stop_process", process_id=process["id"])
    assert stopped["urls"] == []


async def test_a_lease_of_a_holder_that_died_is_taken_back(client: InstanceClient, home: Path) -> None:
    first = await call(client, "start_process", command="echo $PORT; sleep 300", port=True, immediate=True)
    await call(client, "stop_process", process_id=first["id"])
    table = home / "port-leases.json"
    dead = {
        "port": first["port"],
        "process_id": "gone",
        "title": "a crashed server's process",
        "instance": "crashed",
        "holder_pid": 2**22 + 7,  # no such pid
        "holder_started": 1.0,
    }
    table.write_text(json.dumps([dead]))
    assert [lease["holder_alive"] for lease in list_leases(home)] == [False]
    again = await call(client, "start_process", command="echo $PORT; sleep 300", port=True, immediate=True)
    try:
        assert again["port"] == first["port"]  # the range's first port is free again
    finally:
        await call(client, "stop_process", process_id=again["id"])
    assert list_leases(home) == []
