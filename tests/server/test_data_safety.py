"""A real server on damaged or full data: read-only with the sentence, the disk-full sentence, daily backups."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient, RpcError
from murmuration.contract import DAMAGED, DISK_FULL
from murmuration.core import backups
from murmuration.core.errors import Damaged
from murmuration.datafolder import DataFolder
from murmuration.server.lifecycle import RunningInstance
from tests.conftest import Servers
from tests.storage import digest, fill, fill_disk, overwrite_page, tiny_disk

EVENT_TIMEOUT = 10.0


async def connect(folder: DataFolder) -> InstanceClient:
    return await InstanceClient.for_folder(folder)


async def test_a_damaged_store_is_served_read_only_and_every_write_gets_the_sentence(
    home: Path, servers: Servers
) -> None:
    folder = registry.create("Damaged", home)
    fill(folder.state_db)
    overwrite_page(folder.state_db)
    before = digest(folder.state_db)
    servers.start("--data-dir", str(folder.path))
    sentence = Damaged.sentence("damaged")
    assert "murmuration doctor damaged" in sentence
    async with await connect(folder) as client:
        info = await client.call("get_instance_info")
        assert info["damaged"] == sentence
        writes = [
            ("record_issue", {"title": "on top of the damage"}),
            ("update_issue", {"issue_id": "ISSUE_1", "title": "changed"}),
            ("delete_issue", {"issue_id": "ISSUE_2"}),
            ("record_fragment", {"title": "t", "body": "b", "type": "note"}),
            ("set_queue_config", {"max_concurrent": 2}),
            ("start_process", {"command": ["true"]}),
        ]
        for method, params in writes:
            with pytest.raises(RpcError) as caught:
                await client.call(method, params)
            assert (caught.value.code, caught.value.message) == (DAMAGED, sentence), method
        assert (await client.call("get_queue_status"))["config"]["max_concurrent"] == 5  # a refused change is no change
        # Reads still answer where the pages are readable, or say the same sentence where they are not.
        try:
            await client.call("get_issue", {"issue_id": "ISSUE_1"})
        except RpcError as exc:
            refusal = exc
        else:
            refusal = None
        assert refusal is None or (refusal.code, refusal.message) == (DAMAGED, sentence)
    servers.end_all()
    assert digest(folder.state_db) == before


async def test_corruption_met_while_serving_switches_to_read_only_and_tells_the_dashboard(
    instance: RunningInstance, client: InstanceClient
) -> None:
    store = instance.ctx.knowledge.store
    await client.subscribe(["instance"])
    for n in range(300):
        await client.call("record_issue", {"title": f"issue {n}", "content": "x" * 500})
    overwrite_page(store.path)
    store.db.execute("PRAGMA shrink_memory")  # the server's cached pages are forgotten: reads go to the disk
    sentence = Damaged.sentence(instance.ctx.info.id)
    with pytest.raises(RpcError) as caught:
        await client.call("list_issues", {"limit": 300, "text": "issue"})
    assert (caught.value.code, caught.value.message) == (DAMAGED, sentence)
    event = await asyncio.wait_for(client.next_event(), EVENT_TIMEOUT)
    assert (event["topic"], event["action"]) == ("instance", "damaged")
    with pytest.raises(RpcError) as caught:
        await client.call("record_issue", {"title": "after"})
    assert (caught.value.code, caught.value.message) == (DAMAGED, sentence)
    assert (await client.call("get_instance_info"))["damaged"] == sentence


async def test_a_full_disk_gets_the_sentence_nothing_half_done_and_writes_work_again_without_restart(
    tmp_path: Path, servers: Servers
) -> None:
    with tiny_disk(tmp_path / "disk", size="4m") as disk:
        data = disk / "data"
        servers.start("--data-dir", str(data), env={"MURMURATION_BACKUP_EVERY": "86400"})
        folder = DataFolder(data)
        async with await connect(folder) as client:
            await client.call("record_issue", {"title": "before", "content": "a" * 1000})
            filler = fill_disk(disk, leave=16384)
            sentence = f"The disk holding {data} is full; free some space and retry."
            refusal: RpcError | None = None
            for n in range(100):
                try:
                    await client.call("record_issue", {"title": f"big {n}", "content": "b" * 20_000, "tags": ["big"]})
                except RpcError as exc:
                    refusal = exc
                    break
            assert refusal is not None
            assert (refusal.code, refusal.message) == (DISK_FULL, sentence)
            listed = await client.call("list_issues", {"limit": 200})
            numbers = [i["id"] for i in listed["issues"]]
            tagged = await client.call("list_issues", {"limit": 200, "tags": ["big"]})
            assert len(tagged["issues"]) == len(numbers) - 1  # each issue whole, tags and all, or not at all
            filler.unlink()
            again = await client.call("record_issue", {"title": "room again", "content": "c" * 20_000})
            assert again["title"] == "room again"
            assert (await client.call("get_issue", {"issue_id": again["id"]}))["content"] == "c" * 20_000
        servers.end_all()
        assert backups.problem(folder.state_db) is None


async def test_a_running_server_backs_up_on_schedule_keeping_the_newest_seven(home: Path, servers: Servers) -> None:
    folder = registry.create("Backed up", home)
    fill(folder.state_db, issues=5)
    servers.start("--data-dir", str(folder.path), env={"MURMURATION_BACKUP_EVERY": "0.2"})
    where = backups.backup_folder(folder.state_db)
    deadline = asyncio.get_running_loop().time() + 60
    # Ten backups made means the rotation has run at least three times.
    made: set[str] = set()
    while len(made) < 10:
        assert asyncio.get_running_loop().time() < deadline, made
        made |= {b.path.name for b in backups.backups(where)}
        await asyncio.sleep(0.05)
    kept = backups.backups(where)
    assert len(kept) <= backups.KEEP
    assert all(b.reason == "daily" for b in kept)
    for backup in kept:
        assert stat.S_IMODE(backup.path.stat().st_mode) == 0o600
    assert backups.problem(kept[0].path) is None


def test_a_server_started_on_a_full_disk_says_so_and_exits_1(tmp_path: Path, servers: Servers) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        registry.open_data_dir(data)
        fill_disk(disk)
        server = servers.spawn("--data-dir", str(data))
        assert server.finish() == 1
        lines = server.stderr.decode().strip().splitlines()
        assert lines == [f"murmuration: The disk holding {data} is full; free some space and retry."], lines
