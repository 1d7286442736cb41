"""Attacks on data folders: found folders, planted links and triggers, other users, and the modes of every file.

Each test serves a real folder with `murmuration serve --data-dir` (or `--instance`) and checks what the server did
with what was planted there, and what another local user can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from murmuration import registry
from murmuration.client import InstanceClient, InstanceUnavailable
from murmuration.control import stop_instance
from murmuration.datafolder import DataFolder
from murmuration.status import State, probe
from tests.conftest import Servers, run_cli
from tests.found_folders import ATTACKER_TOKEN, plant_folder, plant_lying_index, touch_command
from tests.server.test_lifecycle import one_sentence, outcome
from tests.waiting import until

POSIX_ROOT = sys.platform != "win32" and os.geteuid() == 0
NOBODY = 65534


def calls(folder: DataFolder, *requests: tuple[str, dict[str, object]]) -> list[object]:
    """Answers to `requests`, made with the token the server keeps in `folder` now."""

    async def run() -> list[object]:
        runtime = folder.read_runtime()
        assert runtime is not None
        async with await InstanceClient.connect(runtime.url, runtime.token) as client:
            return [await client.call(method, params) for method, params in requests]

    return asyncio.run(run())


def wait_for_end(folder: DataFolder, process_id: str) -> dict[str, object]:
    async def run() -> dict[str, object]:
        runtime = folder.read_runtime()
        assert runtime is not None
        async with await InstanceClient.connect(runtime.url, runtime.token) as client:
            for _ in range(600):
                status: dict[str, object] = await client.call("get_process_status", {"process_id": process_id})
                if status["state"] in ("stopped", "failed"):
                    return status
                await asyncio.sleep(0.05)
        raise AssertionError(f"process {process_id} did not end")

    return asyncio.run(run())


def run_mine(folder: DataFolder) -> None:
    """Start a harmless process and wait for its end: by then the queue has had every chance to run anything."""
    (started,) = calls(folder, ("start_process", {"command": [sys.executable, "-c", "print('mine')"], "title": "mine"}))
    assert isinstance(started, dict)
    wait_for_end(folder, str(started["id"]))


def modes(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (itself included) with its permission bits, as octal text."""
    found = {".": oct(stat.S_IMODE(os.lstat(folder).st_mode))}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = oct(stat.S_IMODE(os.lstat(path).st_mode))
    return found


# --- work in a folder this user's Murmuration did not make ---------------------------------------------------


def test_work_found_in_a_folder_made_elsewhere_is_never_run_resumed_or_signalled(
    servers: Servers, tmp_path: Path
) -> None:
    data = tmp_path / "found"
    pwned = tmp_path / "PWNED"
    plant_folder(data, "found", touch_command(pwned), tmp_path)
    # A live process of the user's, named in the planted rows as if the instance had started it.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with contextlib.closing(sqlite3.connect(data / "state.db")) as db, db:
            created = psutil.Process(bystander.pid).create_time()
            db.execute(
                "UPDATE processes SET pid = ?, pid_started = ? WHERE state = 'running'", (bystander.pid, created)
            )
        servers.start("--data-dir", str(data))
        folder = DataFolder(data)
        run_mine(folder)
        (listing,) = calls(folder, ("list_processes", {}))
        assert isinstance(listing, dict)
        states = sorted((p["title"], p["state"]) for p in listing["processes"])
        assert states == [("mine", "stopped"), ("planted", "cancelled"), ("planted", "cancelled")]
        assert not pwned.exists(), "work found in the folder ran"
        assert bystander.poll() is None, "a process named in the found state.db was signalled"
        # Its knowledge is kept; its token is not.
        (issues,) = calls(folder, ("list_issues", {}))
        assert isinstance(issues, dict)
        assert [i["title"] for i in issues["issues"]] == ["planted issue"]
        assert folder.token_file.read_text() != ATTACKER_TOKEN
        assert folder.read_info().seal
    finally:
        bystander.kill()
        bystander.wait()


def test_a_folder_made_here_keeps_its_token_and_its_queue_across_restarts(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "mine"
    first = servers.start("--data-dir", str(data))
    folder = DataFolder(data)
    token = folder.token_file.read_text()
    seal = folder.read_info().seal
    first.signal(15)
    first.finish()
    servers.start("--data-dir", str(data))
    assert folder.token_file.read_text() == token
    assert folder.read_info().seal == seal


def test_a_state_db_with_a_planted_trigger_is_refused_and_kept(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "found"
    plant_folder(data, "found", ["true"], tmp_path)
    with contextlib.closing(sqlite3.connect(data / "state.db")) as db, db:
        db.execute(
            "CREATE TRIGGER rewrite AFTER INSERT ON processes BEGIN "
            'UPDATE processes SET argv = \'["sh", "-c", "touch PWNED"]\' WHERE id = new.id; END'
        )
    before = (data / "state.db").read_bytes()
    code, out, err = outcome(servers.spawn("--data-dir", str(data)))
    assert code == 1
    assert out == ""
    line = one_sentence(err)
    assert "trigger 'rewrite'" in line
    assert "did not make" in line
    assert (data / "state.db").read_bytes() == before


# --- links where files belong ------------------------------------------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path) -> DataFolder:
    """A data folder made here and never served yet."""
    return registry.open_data_dir(tmp_path / "data")


def test_a_token_that_links_elsewhere_is_replaced_and_its_target_untouched(
    servers: Servers, fresh: DataFolder, tmp_path: Path
) -> None:
    target = tmp_path / "machine-id"
    target.write_text("0123456789abcdef0123456789abcdef0123456789abcdef\n")
    os.chmod(target, 0o600)
    fresh.token_file.symlink_to(target)
    servers.start("--data-dir", str(fresh.path))
    assert not fresh.token_file.is_symlink()
    token = fresh.token_file.read_text()
    assert token not in target.read_text()
    assert target.read_text() == "0123456789abcdef0123456789abcdef0123456789abcdef\n"
    runtime = fresh.read_runtime()
    assert runtime is not None
    with pytest.raises(InstanceUnavailable, match="401"):
        asyncio.run(InstanceClient.connect(runtime.url, target.read_text().strip()))


@pytest.mark.parametrize("name", ["logs", "state.db", "instance.json", ".lock", "state.db-wal"])
def test_a_link_where_a_file_or_folder_belongs_is_refused_and_nothing_is_written_through_it(
    servers: Servers, fresh: DataFolder, tmp_path: Path, name: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target"
    if name == "logs":
        shutil.rmtree(fresh.path / "logs", ignore_errors=True)
        target.mkdir()
    elif name == "instance.json":
        target.write_bytes(fresh.instance_file.read_bytes())
        fresh.instance_file.unlink()
    else:
        target.write_bytes(b"")
    (fresh.path / name).symlink_to(target)
    before = {p.name: p.read_bytes() for p in target.rglob("*")} if target.is_dir() else target.read_bytes()
    code, out, err = outcome(servers.spawn("--data-dir", str(fresh.path)))
    assert code == 1, err
    assert out == ""
    line = one_sentence(err)
    assert str(fresh.path / name) in line
    assert "symbolic link" in line
    after = {p.name: p.read_bytes() for p in target.rglob("*")} if target.is_dir() else target.read_bytes()
    assert after == before


def test_links_planted_among_the_logs_are_removed_never_written_through(
    servers: Servers, fresh: DataFolder, tmp_path: Path
) -> None:
    target = tmp_path / "bashrc"
    target.write_text("export PS1='$ '\n")
    (fresh.path / "logs").mkdir(exist_ok=True)
    (fresh.path / "logs" / "server.log").symlink_to(target)
    (fresh.path / "logs" / "stderr.log").symlink_to(target)
    (fresh.path / "runtime.json").symlink_to(target)
    servers.start("--data-dir", str(fresh.path))
    assert target.read_text() == "export PS1='$ '\n"
    for name in ("logs/server.log", "runtime.json"):
        assert not (fresh.path / name).is_symlink()
    until(lambda: "serving" in (fresh.path / "logs" / "server.log").read_text(), "the server's own log", timeout=30)


# --- modes and owners ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_every_folder_is_0700_and_every_file_0600_and_wider_modes_are_repaired(
    servers: Servers, fresh: DataFolder
) -> None:
    for path in [fresh.path, *fresh.path.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    server = servers.start("--data-dir", str(fresh.path))
    run_mine(fresh)
    found = modes(fresh.path)
    for expected in ("state.db", "state.db-wal", "state.db-shm", "token", "runtime.json", "instance.json"):
        assert expected in found
    assert any(name.startswith("logs/processes/") for name in found), found
    wrong = {
        name: mode for name, mode in found.items() if mode != ("0o700" if (fresh.path / name).is_dir() else "0o600")
    }
    assert wrong == {}
    server.signal(15)
    server.finish()


@pytest.mark.skipif(not POSIX_ROOT, reason="changing a folder's owner needs root")
def test_a_folder_owned_by_another_user_is_refused(servers: Servers, fresh: DataFolder) -> None:
    os.chown(fresh.path, NOBODY, NOBODY)
    code, _, err = outcome(servers.spawn("--data-dir", str(fresh.path)))
    assert code == 1
    line = one_sentence(err)
    assert str(fresh.path) in line
    assert "another user" in line


@pytest.mark.skipif(not POSIX_ROOT, reason="changing a file's owner needs root")
def test_a_token_owned_by_another_user_is_replaced(servers: Servers, fresh: DataFolder) -> None:
    fresh.token_file.write_text(ATTACKER_TOKEN)
    os.chmod(fresh.token_file, 0o600)
    os.chown(fresh.token_file, NOBODY, NOBODY)
    servers.start("--data-dir", str(fresh.path))
    assert os.stat(fresh.token_file).st_uid == os.getuid()
    assert fresh.token_file.read_text() != ATTACKER_TOKEN


@pytest.fixture
def open_tree(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder every user may enter, holding the base folder: only Murmuration's own modes can keep others out."""
    root = Path(tempfile.mkdtemp(prefix="murmuration-others-", dir="/tmp"))
    os.chmod(root, 0o755)
    monkeypatch.setenv("MURMURATION_HOME", str(root / "home"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


READ_EVERYTHING = """
import os, sys
readable = []
for top in sys.argv[1:]:
    for root, folders, files in os.walk(top, onerror=lambda e: None):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    f.read(1)
                readable.append(os.path.join(root, name))
            except OSError:
                pass
        if root != top:
            readable.append(root + "/")
print("\\n".join(readable))
"""


@pytest.mark.skipif(not POSIX_ROOT or shutil.which("setpriv") is None, reason="running as another user needs root")
def test_another_local_user_can_read_nothing_of_any_instance(servers: Servers, open_tree: Path) -> None:
    project = open_tree / "project"
    project.mkdir()
    os.chmod(project, 0o755)
    elsewhere = open_tree / "elsewhere"
    servers.start("--instance", "managed")
    project_folder = registry.open_project(project)
    servers.start("--data-dir", str(project_folder.path))
    servers.start("--data-dir", str(elsewhere))
    for folder in (registry.find("managed"), project_folder, DataFolder(elsewhere)):
        run_mine(folder)
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    seen = subprocess.run(
        [*as_nobody, "/usr/bin/python3", "-c", READ_EVERYTHING, str(open_tree / "home"), str(elsewhere)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    assert seen.stdout.strip() == "", f"another user could read:\n{seen.stdout}"
    # The check itself can see: the same walk as this user reads the tokens.
    mine = subprocess.run(
        [sys.executable, "-c", READ_EVERYTHING, str(open_tree / "home")], capture_output=True, text=True, check=True
    )
    assert "/token" in mine.stdout


def test_a_runtime_file_naming_another_host_is_never_believed(fresh: DataFolder) -> None:
    runtime = {"pid": os.getpid(), "port": 8080, "url": "http://attacker.example:8080/", "token": "t"}
    runtime |= {"started_at": "x", "version": "0", "create_time": psutil.Process().create_time()}
    fresh.runtime_file.write_text(json.dumps(runtime))
    os.chmod(fresh.runtime_file, 0o600)
    assert fresh.read_runtime() is None


# --- what an attacker-reviewer found: lying indexes, planted runtime files, swappable parents, bombs -----------


def test_a_found_state_db_with_a_lying_index_is_refused_and_runs_nothing(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "found"
    pwned = tmp_path / "PWNED"
    data.mkdir()
    (data / "instance.json").write_text(json.dumps({"id": "x", "name": "x", "created_at": "x", "cwd": str(tmp_path)}))
    plant_lying_index(data / "state.db", touch_command(pwned), tmp_path)
    code, _, err = outcome(servers.spawn("--data-dir", str(data)))
    assert code == 1
    # Refused as damaged (the check at every open) or as not agreeing with itself (the one for found folders).
    assert "move state.db aside" in one_sentence(err)
    assert not pwned.exists()


def test_a_runtime_file_found_with_a_folder_is_not_believed_and_stop_signals_nothing(tmp_path: Path) -> None:
    data = tmp_path / "found"
    plant_folder(data, "found", ["true"], tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        created = psutil.Process(bystander.pid).create_time()
        runtime = {"pid": bystander.pid, "port": 18931, "url": "http://127.0.0.1:18931/", "token": ATTACKER_TOKEN}
        (data / "runtime.json").write_text(
            json.dumps({**runtime, "started_at": "x", "version": "0", "create_time": created})
        )
        os.chmod(data / "runtime.json", 0o600)
        folder = DataFolder(data)
        assert probe(folder).state is not State.RUNNING
        assert stop_instance(folder, timeout=2) is False
        assert bystander.poll() is None, "a process named by a planted runtime.json was signalled"
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX folder modes")
def test_a_data_folder_under_a_folder_anyone_can_change_is_refused(servers: Servers, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # no sticky bit: anybody may rename our folder away and put theirs in its place
    code, _, err = outcome(servers.spawn("--data-dir", str(shared / "data")))
    assert code == 1
    line = one_sentence(err)
    assert str(shared) in line
    assert "any user" in line


def test_a_found_folder_does_not_choose_where_its_processes_run(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "found"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plant_folder(data, "found", ["true"], elsewhere)
    servers.start("--data-dir", str(data))
    (info,) = calls(DataFolder(data), ("get_instance_info", {}))
    assert isinstance(info, dict)
    assert info["cwd"] == str(tmp_path)
    assert DataFolder(data).read_info().cwd == str(tmp_path)


def test_ls_lists_an_instance_whose_runtime_file_is_a_bracket_bomb(fresh: DataFolder) -> None:
    registry.register(fresh)
    fresh.runtime_file.write_text("[" * 200_000)
    os.chmod(fresh.runtime_file, 0o600)
    listed = run_cli("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["status"] for row in json.loads(listed.stdout)] == ["crashed"]
