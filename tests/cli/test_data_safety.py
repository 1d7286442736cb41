"""`doctor`, `backup`, `restore` and "not responding", as a user runs them: real processes, real damage."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from murmuration import registry
from murmuration.core import backups
from murmuration.core.port_leases import list_leases
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store
from murmuration.datafolder import DataFolder
from murmuration.status import PING_TIMEOUT
from tests.cli.test_commands import fails, ok, row
from tests.conftest import run_cli
from tests.storage import digest, fill, overwrite_page, tiny_disk


def doctor(*args: str) -> tuple[int, list[str]]:
    result = run_cli("doctor", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout.strip().splitlines()


def titles(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT title FROM issues ORDER BY number")]
    finally:
        db.close()


@pytest.fixture
def frozen(cli_instances: list[str]) -> Iterator[psutil.Process]:
    """A real server of instance `frozen`, stopped with SIGSTOP (let go again afterwards, whatever happens)."""
    ok("new", "frozen")
    cli_instances.append("frozen")
    ok("start", "frozen")
    process = psutil.Process(row("frozen")["pid"])
    process.send_signal(signal.SIGSTOP)
    try:
        yield process
    finally:
        if process.is_running():
            process.send_signal(signal.SIGCONT)


# --- doctor ------------------------------------------------------------------------------------------------------


def test_doctor_on_a_healthy_machine_says_all_is_well_and_exits_0(cli_instances: list[str]) -> None:
    ok("new", "calm")
    ok("new", "busy")
    cli_instances.append("busy")
    ok("start", "busy")
    ok("backup", "busy")
    code, lines = doctor()
    assert (code, lines) == (0, ["All is well: 2 instances checked, nothing to fix."])
    assert doctor("calm") == (0, ["All is well: 1 instance checked, nothing to fix."])


def test_doctor_names_each_finding_with_what_to_do_and_repair_fixes_the_safe_ones(home: Path) -> None:
    ok("new", "loose")
    folder = registry.find("loose")
    fill(folder.state_db, issues=3)
    os.chmod(folder.path, 0o755)
    os.chmod(folder.instance_file, 0o644)
    (folder.path / "notes.txt").symlink_to("/etc/hostname")
    folder.runtime_file.write_text(
        json.dumps(
            {
                "pid": 999_999_999,
                "port": 1,
                "url": "http://127.0.0.1:1/",
                "token": "x" * 40,
                "started_at": "then",
                "version": "0",
                "create_time": 1.0,
            }
        )
    )
    os.chmod(folder.runtime_file, 0o600)
    code, lines = doctor("loose")
    assert code == 1
    assert all(line.startswith("loose: ") and line.endswith(".") for line in lines), lines
    text = "\n".join(lines)
    assert f"{folder.path} can be read by other users (mode 0755); `murmuration doctor --repair` makes it 0700." in text
    assert f"{folder.instance_file} can be read by other users (mode 0644)" in text
    assert f"{folder.path / 'notes.txt'} is a symbolic link" in text
    assert "runtime.json is left by a server that is gone (pid 999999999)" in text
    code, lines = doctor("loose", "--repair")
    assert code == 1  # the symbolic link is not Murmuration's to replace: it is still there to see to
    assert sum(line.startswith("loose: repaired: ") for line in lines) == 3, lines
    assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.instance_file.stat().st_mode) == 0o600
    assert not folder.runtime_file.exists()
    assert [p.name for p in folder.path.glob("runtime.json.stale-*")]  # moved aside, not deleted
    assert (folder.path / "notes.txt").is_symlink()
    (folder.path / "notes.txt").unlink()
    assert doctor("loose") == (0, ["All is well: 1 instance checked, nothing to fix."])


def test_a_file_owned_by_another_user_is_named_with_how_to_give_it_back(home: Path) -> None:
    ok("new", "shared")
    folder = registry.find("shared")
    os.chown(folder.instance_file, 65534, 65534)
    code, lines = doctor("shared")
    assert code == 1
    assert any(f"{folder.instance_file} belongs to user nobody, not to you (root)" in line for line in lines), lines


def test_a_broken_instance_json_has_a_way_out_that_keeps_the_broken_file(home: Path) -> None:
    ok("new", "broken")
    folder = registry.find("broken")
    folder.instance_file.write_text("{ not json")
    said = fails("start", "broken")
    assert said.startswith("murmuration: ")
    assert not said.startswith("murmuration: murmuration:")
    assert "`murmuration doctor --repair`" in said
    code, lines = doctor("--repair")
    assert code == 0, lines
    assert any("rebuilt instance.json (id broken" in line for line in lines), lines
    kept = list(folder.path.glob("instance.json.broken-*"))
    assert [p.read_text() for p in kept] == ["{ not json"]
    assert DataFolder(folder.path).read_info().id == "broken"


def test_the_damaged_store_story_read_only_doctor_names_it_repair_restores_the_backup(
    home: Path, cli_instances: list[str]
) -> None:
    ok("new", "hurt")
    folder = registry.find("hurt")
    fill(folder.state_db)
    ok("backup", "hurt")
    good = titles(folder.state_db)
    overwrite_page(folder.state_db)
    damaged = digest(folder.state_db)
    cli_instances.append("hurt")
    ok("start", "hurt")
    code, lines = doctor("hurt")
    assert code == 1
    assert any("state.db is damaged" in line and "`murmuration stop hurt`" in line for line in lines), lines
    assert ok("stop", "hurt").strip() == "Stopped hurt."
    assert digest(folder.state_db) == damaged  # nothing was written over the damage while it was served
    code, lines = doctor("hurt", "--repair")
    assert code == 0, lines
    assert any("repaired: restored state.db from state-" in line for line in lines), lines
    assert titles(folder.state_db) == good
    kept = [p for p in folder.path.glob("state.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert [digest(p) for p in kept] == [damaged]
    assert doctor("hurt") == (0, ["All is well: 1 instance checked, nothing to fix."])


def test_doctor_finds_a_low_disk(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        registry.register(registry.open_data_dir(data))
        code, lines = doctor()
        assert code == 1
        assert any(f"the disk holding {data} has only" in line for line in lines), lines


def test_doctor_finds_processes_left_by_a_dead_instance(home: Path) -> None:
    ok("new", "left")
    folder = registry.find("left")
    survivor = subprocess.Popen(["sleep", "60"])
    try:
        started = psutil.Process(survivor.pid).create_time()
        store = Store(folder.state_db, MIGRATIONS)
        with store.transaction() as db:
            for pid, pid_started, name in ((survivor.pid, started, "survivor"), (999_999_999, 1.0, "ghost")):
                db.execute(
                    "INSERT INTO processes (id, title, name, argv, cwd, priority, state, pid, pid_started, queued_at) "
                    "VALUES (?, ?, ?, '[]', '/', 5, 'running', ?, ?, 'then')",
                    (f"p-{name}", name, name, pid, pid_started),
                )
        store.close()
        code, lines = doctor("left")
    finally:
        survivor.kill()
        survivor.wait()
    assert code == 1
    text = "\n".join(lines)
    assert f"process 'survivor' (p-survivor, pid {survivor.pid}) still runs although its instance stopped" in text
    assert "process 'ghost' (p-ghost) is recorded as running but is gone" in text


def test_doctor_names_a_trigger_planted_in_state_db_as_a_start_would(home: Path) -> None:
    ok("new", "planted")
    folder = registry.find("planted")
    Store(folder.state_db, MIGRATIONS).close()
    db = sqlite3.connect(folder.state_db)
    db.execute("CREATE TRIGGER rewrite AFTER INSERT ON issues BEGIN UPDATE issues SET title = 'x'; END")
    db.commit()
    db.close()
    code, lines = doctor("planted")
    assert code == 1
    assert f"planted: {folder.state_db} holds a trigger 'rewrite' that Murmuration did not make" in "\n".join(lines)


def test_doctor_finds_a_port_lease_left_by_a_dead_server_and_repair_gives_it_back(home: Path) -> None:
    ok("new", "leaser")
    # A real server-side lease table entry, made by a process that then ends without releasing it.
    made = "import pathlib, sys; from murmuration.core.port_leases import PortLeases; "
    made += "print(PortLeases(pathlib.Path(sys.argv[1]), 'leaser').lease('p-web', 'web server'))"
    port = int(subprocess.run([sys.executable, "-c", made, str(home)], check=True, capture_output=True).stdout)
    assert [lease["holder_alive"] for lease in list_leases(home)] == [False]
    code, lines = doctor("leaser")
    assert code == 1
    assert any(
        line.startswith(f"leaser: port {port} is still leased to process p-web ('web server')") for line in lines
    ), lines
    code, lines = doctor("--repair")
    assert code == 0, lines
    assert "leaser: repaired: gave back the ports leased by servers that are gone." in lines
    assert list_leases(home) == []
    assert doctor() == (0, ["All is well: 1 instance checked, nothing to fix."])


# --- not responding ----------------------------------------------------------------------------------------------


def test_a_frozen_server_is_not_responding_to_ls_start_and_doctor_and_stop_ends_it(frozen: psutil.Process) -> None:
    listed = row("frozen")
    assert (listed["status"], listed["pid"]) == ("not responding", frozen.pid)
    said = fails("start", "frozen")
    assert said == (
        f"murmuration: frozen is not responding: its server (pid {frozen.pid}) holds the data folder but does not "
        f"answer within {PING_TIMEOUT:.0f} s; end it with `murmuration stop frozen` (see `murmuration doctor frozen`)."
    )
    code, lines = doctor("frozen")
    assert code == 1
    assert any("frozen is not responding" in line for line in lines), lines
    assert ok("stop", "frozen").strip() == "Stopped frozen."
    assert not frozen.is_running() or frozen.status() == psutil.STATUS_ZOMBIE
    assert row("frozen")["status"] == "stopped"


# --- backup and restore ------------------------------------------------------------------------------------------


def test_backup_by_hand_to_its_folder_or_a_path_and_never_over_a_file(home: Path, tmp_path: Path) -> None:
    ok("new", "kept")
    folder = registry.find("kept")
    fill(folder.state_db, issues=4)
    said = ok("backup", "kept").strip()
    made = backups.backups(backups.backup_folder(folder.state_db))
    assert [b.reason for b in made] == ["manual"]
    assert said == f"Backed up kept to {made[0].path}."
    target = tmp_path / "copy.db"
    assert ok("backup", "kept", str(target)).strip() == f"Backed up kept to {target}."
    assert titles(target) == titles(folder.state_db)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = digest(target)
    said = fails("backup", "kept", str(target))
    assert "exists already" in said
    assert digest(target) == before


def test_restore_needs_the_instance_stopped_and_keeps_the_current_store(home: Path, cli_instances: list[str]) -> None:
    ok("new", "back")
    folder = registry.find("back")
    fill(folder.state_db, issues=2)
    ok("backup", "back")
    backup = backups.backups(backups.backup_folder(folder.state_db))[0].path
    cli_instances.append("back")
    ok("start", "back")
    said = fails("restore", "back", str(backup))
    assert said == "murmuration: back is running; stop it with `murmuration stop back` first."
    ok("stop", "back")
    fill(folder.state_db, issues=1)  # one more issue, after the backup
    current = titles(folder.state_db)
    said = ok("restore", "back", str(backup)).strip()
    assert said.startswith(f"Restored back from {backup}; the store it replaced is kept as {folder.state_db}.")
    assert titles(folder.state_db) == current[:2]
    kept = Path(said.rsplit(" as ", 1)[1].rstrip("."))
    assert titles(kept) == current


def test_restore_refuses_a_damaged_or_foreign_file_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    ok("new", "careful")
    folder = registry.find("careful")
    fill(folder.state_db, issues=3)
    before = digest(folder.state_db)
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE x (y)")
    db.close()
    assert "is not a Murmuration backup" in fails("restore", "careful", str(foreign))
    damaged = tmp_path / "damaged.db"
    ok("backup", "careful", str(damaged))
    overwrite_page(damaged)
    assert "is damaged" in fails("restore", "careful", str(damaged))
    assert "is not a file" in fails("restore", "careful", str(tmp_path / "nothing.db"))
    assert digest(folder.state_db) == before
    assert sorted(p.name for p in folder.path.glob("state.db*")) == ["state.db"]


def test_an_upgrade_from_the_previous_schema_leaves_a_backup_that_restore_brings_back(
    home: Path, cli_instances: list[str]
) -> None:
    ok("new", "old")
    folder = registry.find("old")
    old = Store(folder.state_db, MIGRATIONS[:-1])
    with old.transaction() as db:
        db.execute("INSERT INTO issues (title, created_at, updated_at) VALUES ('kept through the upgrade', 'a', 'a')")
    old.close()
    cli_instances.append("old")
    ok("start", "old")  # this release upgrades it
    ok("stop", "old")
    made = backups.backups(backups.backup_folder(folder.state_db))
    before_upgrade = [b for b in made if b.reason.startswith("before-schema-")]
    assert len(before_upgrade) == 1
    ok("restore", "old", str(before_upgrade[0].path))
    assert backups.schema_version(folder.state_db) == len(MIGRATIONS) - 1
    assert titles(folder.state_db) == ["kept through the upgrade"]
    assert backups.problem(folder.state_db) is None


def test_a_forged_runtime_file_naming_a_live_process_is_found_and_moved_aside(home: Path) -> None:
    ok("new", "forged")
    folder = registry.find("forged")
    me = psutil.Process()  # alive, with the right start time: only the lock and the ping can tell it is not ours
    folder.runtime_file.write_text(
        json.dumps(
            {
                "pid": me.pid,
                "port": 9,
                "url": "http://127.0.0.1:9/",
                "token": "f" * 43,
                "started_at": "then",
                "version": "0",
                "create_time": me.create_time(),
            }
        )
    )
    os.chmod(folder.runtime_file, 0o600)
    assert row("forged")["status"] == "not responding"  # `ls` cannot know more than that it does not answer
    code, lines = doctor("forged")
    assert code == 1
    assert any(f"runtime.json names pid {me.pid}, which does not answer" in line for line in lines), lines
    assert any("stale or forged" in line for line in lines), lines
    code, lines = doctor("forged", "--repair")
    assert code == 0, lines
    assert not folder.runtime_file.exists()
    assert row("forged")["status"] == "stopped"
