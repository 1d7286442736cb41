"""Instances on disk at unit level: names and ids, creating and finding data folders, the folder
lock, atomic files and one-time sign-in codes."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from murmuration import registry
from murmuration.atomicfile import read_json_object, write_atomic, write_json
from murmuration.datafolder import DataFolder, InstanceInfo
from murmuration.home import instances_folder
from murmuration.lock import FolderLock, FolderLocked
from murmuration.login_codes import CODE_LIFETIME, MAX_PENDING, LoginCodes

SAFE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --- slug -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Instance 2", "instance-2"),
        ("Ünïcödé", "unicode"),
        ("../../etc", "etc"),
        ("a/b", "a-b"),
        ("a\\b", "a-b"),
        ("  --Hello,   World!--  ", "hello-world"),
        ("日本語", "instance"),
        ("...", "instance"),
        ("", "instance"),
        ("CON", "con"),
    ],
)
def test_slug_makes_a_short_safe_id(name: str, expected: str) -> None:
    assert registry.slug(name) == expected


def test_slug_is_at_most_40_characters_and_never_ends_in_a_dash() -> None:
    assert registry.slug("a" * 39 + " b" + "c" * 10) == "a" * 39
    assert len(registry.slug("word " * 50)) <= 40


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_slug_is_always_url_and_path_safe(name: str) -> None:
    instance_id = registry.slug(name)
    assert SAFE_ID.match(instance_id), instance_id
    assert 1 <= len(instance_id) <= 40


# --- check_name -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("x", "x"), ("  My instance \t", "My instance"), ("Ünïcödé", "Ünïcödé"), ("a" * 80, "a" * 80), ("../..", "../..")],
)
def test_check_name_trims_and_accepts(name: str, expected: str) -> None:
    assert registry.check_name(name) == expected


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        ("   \t\n ", "empty"),
        ("a" * 81, "at most 80"),
        (" " + "a" * 81 + " ", "at most 80"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\x1b[31mb", "control"),
        ("a\x7fb", "control"),
        ("a\u200bb", "control"),  # zero-width space (format character)
        ("evil\u202etxt.exe", "control"),  # right-to-left override
    ],
)
def test_check_name_rejects_with_one_sentence(name: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        registry.check_name(name)
    message = str(caught.value)
    assert message.endswith(".")
    assert "\n" not in message


# --- create, find, remove ---------------------------------------------------------------------------------------


def test_create_writes_instance_json_in_its_own_folder(home: Path, tmp_path: Path) -> None:
    folder = registry.create("  My Project  ", tmp_path)
    assert folder.path == home / "instances" / "my-project"
    info = folder.read_info()
    assert (info.id, info.name, info.cwd, info.last_port, info.autostart) == (
        "my-project",
        "My Project",
        str(tmp_path),
        None,
        False,
    )
    assert info.created_at


def test_create_refuses_a_taken_name_even_with_other_spacing(tmp_path: Path) -> None:
    registry.create("dup", tmp_path)
    with pytest.raises(registry.InstanceExists):
        registry.create(" dup ", tmp_path)
    assert [f.path.name for f in registry.managed_folders()] == ["dup"]


def test_create_rejects_bad_names_without_leaving_anything(home: Path, tmp_path: Path) -> None:
    for name in ["", "  ", "a" * 81, "a\x01"]:
        with pytest.raises(ValueError, match="instance name"):
            registry.create(name, tmp_path)
    assert registry.managed_folders() == []


@pytest.mark.parametrize("name", ["../../etc", "a/b", "/abs/path", "..", "Ünïcödé", "~root", "$(rm -rf x)"])
def test_created_folders_never_escape_the_instances_folder(home: Path, tmp_path: Path, name: str) -> None:
    folder = registry.create(name, tmp_path)
    assert folder.path.parent == home / "instances"
    assert SAFE_ID.match(folder.path.name)
    assert folder.read_info().name == name
    assert sorted(p.name for p in home.iterdir()) == ["instances", "user.key"]


def test_concurrent_creates_of_one_name_make_exactly_one_instance(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[object] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        try:
            result: object = registry.create("Same Name", tmp_path)
        except Exception as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    created = [o for o in outcomes if isinstance(o, DataFolder)]
    refused = [o for o in outcomes if isinstance(o, registry.InstanceExists)]
    assert len(outcomes) == 8
    assert len(created) == 1, outcomes
    assert len(refused) == 7, outcomes
    assert [f.path for f in registry.managed_folders()] == [created[0].path]
    # No staging folders are left behind by the losers.
    assert [p.name for p in instances_folder().iterdir()] == ["same-name"]


def test_names_with_the_same_slug_get_distinct_ids(tmp_path: Path) -> None:
    first = registry.create("A b", tmp_path)
    second = registry.create("a_b", tmp_path)
    third = registry.create("A/B", tmp_path)
    assert [f.path.name for f in (first, second, third)] == ["a-b", "a-b-2", "a-b-3"]
    assert [f.read_info().name for f in (first, second, third)] == ["A b", "a_b", "A/B"]
    assert [f.read_info().id for f in (first, second, third)] == ["a-b", "a-b-2", "a-b-3"]
    assert [registry.find(name) for name in ("A b", "a_b", "A/B")] == [first, second, third]


def test_a_name_that_is_another_instances_id_is_refused(tmp_path: Path) -> None:
    # find() lets an id win over a name, so such an instance could never be found by its name.
    registry.create("A b", tmp_path)
    with pytest.raises(registry.InstanceExists):
        registry.create("a-b", tmp_path)


def test_concurrent_creates_of_names_with_one_slug_get_distinct_ids(tmp_path: Path) -> None:
    names = ["A b", "a b", "A-B", "a_b", "A.B", "a  b", "a--b", "A/B"]
    barrier = threading.Barrier(len(names))
    folders: dict[str, DataFolder] = {}
    lock = threading.Lock()

    def create(name: str) -> None:
        barrier.wait()
        folder = registry.create(name, tmp_path)
        with lock:
            folders[name] = folder

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(folders) == sorted(names)
    ids = {folder.path.name for folder in folders.values()}
    assert ids == {"a-b", *(f"a-b-{n}" for n in range(2, len(names) + 1))}
    for name, folder in folders.items():
        info = folder.read_info()
        assert (info.name, info.id) == (name, folder.path.name)
    assert sorted(p.name for p in instances_folder().iterdir()) == sorted(ids)


def test_find_by_id_or_name(tmp_path: Path) -> None:
    folder = registry.create("Hello World", tmp_path)
    assert registry.find("hello-world") == folder
    assert registry.find("Hello World") == folder
    with pytest.raises(registry.InstanceNotFound):
        registry.find("hello world")
    with pytest.raises(registry.InstanceNotFound):
        registry.find("../instances/hello-world")


def test_find_prefers_an_id_over_a_name(tmp_path: Path) -> None:
    root = instances_folder()
    for instance_id, name in [("x", "y"), ("y", "z")]:
        (root / instance_id).mkdir(parents=True)
        DataFolder(root / instance_id).write_info(InstanceInfo(instance_id, name, "2020-01-01T00:00:00+00:00", "/"))
    assert registry.find("y").path.name == "y"
    assert registry.find("z").path.name == "y"


def test_managed_folders_skip_staging_folders_strays_and_broken_ones(tmp_path: Path) -> None:
    registry.create("b", tmp_path)
    registry.create("a", tmp_path)
    root = instances_folder()
    (root / ".new-abc").mkdir()
    DataFolder(root / ".new-abc").write_info(InstanceInfo("c", "c", "2020-01-01T00:00:00+00:00", "/"))
    (root / "empty").mkdir()
    (root / "file").write_text("not a folder")
    broken = root / "broken"
    broken.mkdir()
    (broken / "instance.json").write_text("{not json")
    assert [f.path.name for f in registry.managed_folders()] == ["a", "b", "broken"]
    assert registry.readable(DataFolder(broken)) is None


def test_managed_folders_of_a_fresh_home_is_empty(home: Path) -> None:
    assert not home.exists()
    assert registry.managed_folders() == []


def test_remove_deletes_the_data_folder(tmp_path: Path) -> None:
    folder = registry.create("gone", tmp_path)
    (folder.path / "logs").mkdir()
    (folder.path / "logs" / "server.log").write_text("x")
    registry.remove(folder)
    assert not folder.path.exists()
    with pytest.raises(registry.InstanceNotFound):
        registry.find("gone")


# --- open_data_dir --------------------------------------------------------------------------------------------


def test_open_data_dir_names_a_dot_murmuration_folder_after_its_project(tmp_path: Path) -> None:
    project = tmp_path / "My Project!"
    project.mkdir()
    folder = registry.open_data_dir(project / ".murmuration")
    info = folder.read_info()
    assert folder.path == project / ".murmuration"
    assert (info.name, info.id, info.cwd) == ("My Project!", "my-project", str(project))


def test_open_data_dir_names_any_other_folder_after_itself(tmp_path: Path) -> None:
    folder = registry.open_data_dir(tmp_path / "deep" / "Data Here")
    info = folder.read_info()
    assert (info.name, info.id, info.cwd) == ("Data Here", "data-here", str(tmp_path / "deep" / "Data Here"))


def test_open_data_dir_makes_a_relative_path_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = registry.open_data_dir(Path("proj") / ".murmuration")
    assert folder.path == tmp_path / "proj" / ".murmuration"
    assert folder.read_info().name == "proj"


def test_open_data_dir_keeps_an_existing_instance_as_it_is(tmp_path: Path) -> None:
    first = registry.open_data_dir(tmp_path / "proj" / ".murmuration", cwd=tmp_path)
    before = first.instance_file.read_bytes()
    again = registry.open_data_dir(tmp_path / "proj" / ".murmuration")
    assert again == first
    assert first.instance_file.read_bytes() == before
    assert first.read_info().cwd == str(tmp_path)


# --- FolderLock -----------------------------------------------------------------------------------------------

HOLDER = """
import subprocess, sys
from pathlib import Path
from murmuration.lock import FolderLock

lock = FolderLock(Path(sys.argv[1]))
lock.acquire()
if len(sys.argv) > 2:
    # A managed process started while holding the lock, fds inherited as far as Python allows.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )
    print(child.pid, flush=True)
print("held", flush=True)
for line in sys.stdin:
    if line.strip() == "release":
        lock.release()
        print("released", flush=True)
"""


class Holder:
    """A separate process holding a FolderLock until told to release it or killed."""

    def __init__(self, path: Path, with_child: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), *(["child"] if with_child else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.child_pid = int(self.proc.stdout.readline()) if with_child else None
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("release\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / ".lock"


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.end()
        if holder.child_pid is not None:
            end_orphan(holder.child_pid)


def end_orphan(pid: int) -> None:
    """SIGKILL a helper that outlived its parent; only init can reap it, so a zombie counts as ended."""
    try:
        process = psutil.Process(pid)
        process.kill()
        process.wait(30)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired):
        pass


def can_acquire(path: Path) -> bool:
    lock = FolderLock(path)
    try:
        lock.acquire()
    except FolderLocked:
        return False
    lock.release()
    return True


def test_lock_is_exclusive_across_processes_until_released(lock_path: Path, holders: list[Holder]) -> None:
    holder = Holder(lock_path)
    holders.append(holder)
    with pytest.raises(FolderLocked):
        FolderLock(lock_path).acquire()
    holder.release()
    with FolderLock(lock_path):
        assert not can_acquire(lock_path)
    assert can_acquire(lock_path)


def test_lock_is_freed_when_its_holder_is_killed(lock_path: Path, holders: list[Holder]) -> None:
    holder = Holder(lock_path)
    holders.append(holder)
    assert not can_acquire(lock_path)
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(30)
    assert can_acquire(lock_path)


def test_a_child_of_the_holder_does_not_keep_the_lock(lock_path: Path, holders: list[Holder]) -> None:
    holder = Holder(lock_path, with_child=True)
    holders.append(holder)
    assert holder.child_pid is not None
    assert psutil.pid_exists(holder.child_pid)
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(30)
    assert psutil.Process(holder.child_pid).is_running()
    assert can_acquire(lock_path)


def test_lock_is_exclusive_within_one_process_too(lock_path: Path) -> None:
    with FolderLock(lock_path):
        assert not can_acquire(lock_path)
    assert can_acquire(lock_path)


def test_lock_file_is_private_and_release_is_idempotent(lock_path: Path) -> None:
    lock = FolderLock(lock_path)
    lock.acquire()
    assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600
    lock.release()
    lock.release()
    assert can_acquire(lock_path)


# --- atomicfile -----------------------------------------------------------------------------------------------


def test_write_json_is_private_by_default_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "runtime.json"
    write_json(path, {"b": 1, "a": [1, 2]})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert os.listdir(tmp_path) == ["runtime.json"]


def test_write_json_replaces_a_file_whole_and_applies_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    path.write_text("x" * 10_000)
    path.chmod(0o666)
    write_json(path, {"id": "a"}, mode=0o644)
    assert json.loads(path.read_text()) == {"id": "a"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    write_json(path, {"id": "b"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["instance.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    write_json(path, {"old": True})
    with pytest.raises(TypeError):
        write_json(path, {"new": object()})
    target_dir = tmp_path / "a-folder"
    target_dir.mkdir()
    (target_dir / "keep").write_text("x")
    with pytest.raises(IsADirectoryError):
        write_atomic(target_dir, b"data")  # the rename onto a folder fails after the temp file exists
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(os.listdir(tmp_path)) == ["a-folder", "instance.json"]


def test_concurrent_readers_never_see_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "runtime.json"
    big = {"payload": "x" * 200_000}
    write_json(path, {"payload": ""})
    stop = threading.Event()
    seen: list[object] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(read_json_object(path))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(30):
            write_json(path, {**big, "n": n})
    finally:
        stop.set()
        reader.join(30)
    assert seen
    assert all(isinstance(value, dict) for value in seen)


@pytest.mark.parametrize(("content", "expected"), [("{}", {}), ('{"a": 1}', {"a": 1}), ("[1]", None), ("{x", None)])
def test_read_json_object_only_returns_objects(tmp_path: Path, content: str, expected: object) -> None:
    path = tmp_path / "f.json"
    path.write_text(content)
    assert read_json_object(path) == expected
    assert read_json_object(tmp_path / "missing.json") is None


# --- LoginCodes -----------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_login_code_signs_in_exactly_once() -> None:
    codes = LoginCodes(FakeClock())
    code = codes.issue()
    assert len(code) >= 24
    assert codes.redeem(code)
    assert not codes.redeem(code)


def test_unknown_and_empty_codes_never_sign_in() -> None:
    codes = LoginCodes(FakeClock())
    code = codes.issue()
    assert not codes.redeem("")
    assert not codes.redeem(code[:-1])
    assert not codes.redeem(code + "x")
    assert codes.redeem(code)


def test_login_codes_expire_after_their_lifetime() -> None:
    clock = FakeClock()
    codes = LoginCodes(clock)
    early, late = codes.issue(), codes.issue()
    clock.now += CODE_LIFETIME - 0.001
    assert codes.redeem(early)
    clock.now += 0.001
    assert not codes.redeem(late)


def test_each_code_is_distinct() -> None:
    codes = LoginCodes(FakeClock())
    issued = {codes.issue() for _ in range(MAX_PENDING)}
    assert len(issued) == MAX_PENDING


def test_a_flood_of_codes_evicts_the_oldest_first() -> None:
    clock = FakeClock()
    codes = LoginCodes(clock)
    issued = []
    for _ in range(MAX_PENDING + 1):
        issued.append(codes.issue())
        clock.now += 0.01
    assert not codes.redeem(issued[0])
    assert all(codes.redeem(code) for code in issued[1:])
