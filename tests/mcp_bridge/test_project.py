"""The default instance of a project: its data folder in the base folder (never in the project), its id, its listing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.home import projects_folder
from murmuration.mcp_bridge.project import bridge_folder, project_root
from tests.mcp_bridge.conftest import bridge, cli, git_project, ok

PROJECT_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{8}$")


def test_the_project_is_the_git_root_else_the_folder_itself(tmp_path: Path) -> None:
    repo = git_project(tmp_path, "repo")
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    assert project_root(deep) == repo
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    assert project_root(plain) == plain
    # A worktree or submodule has a .git file, not a folder: it is a root all the same.
    worktree = tmp_path / "worktree"
    (worktree / "a").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: /elsewhere\n")
    assert project_root(worktree / "a") == worktree


NOBODY = 65534
needs_another_user = pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() != 0, reason="giving a folder to another user needs root"
)


@needs_another_user
def test_a_git_folder_planted_in_a_folder_others_can_write_does_not_decide_the_project(tmp_path: Path) -> None:
    # Like /tmp: anyone may write there. Another user plants `.git` in it; our project is further down.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / ".git").mkdir()
    os.chown(shared / ".git", NOBODY, NOBODY)
    project = shared / "x" / "proj"
    project.mkdir(parents=True)
    assert project_root(project) == project
    # The bridge serves the project's own instance, not one for the planted folder.
    assert bridge_folder(None, None, project).read_info().cwd == str(project)


@needs_another_user
def test_a_folder_owned_by_another_user_is_not_a_project_root_above_ours(tmp_path: Path) -> None:
    theirs = git_project(tmp_path, "theirs")
    for path in (theirs, *theirs.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    project = theirs / "ours"  # made in their folder by root, which may write anywhere
    project.mkdir()
    assert project_root(project) == project


def test_projects_with_one_name_get_distinct_ids(tmp_path: Path) -> None:
    first = registry.open_project(git_project(tmp_path / "x", "My App")).read_info()
    second = registry.open_project(git_project(tmp_path / "y", "My App")).read_info()
    assert first.name == second.name == "My App"
    assert first.id != second.id
    assert PROJECT_ID.match(first.id)
    assert first.id.startswith("my-app-")
    assert PROJECT_ID.match(second.id)


def test_a_project_instance_lives_in_the_base_folder_and_is_listed_and_found(tmp_path: Path) -> None:
    project = git_project(tmp_path, "shop")
    folder = registry.open_project(project)
    managed = registry.create("managed", tmp_path)
    assert folder.path.parent == projects_folder()
    assert registry.managed_folders() == [managed, folder]
    info = folder.read_info()
    assert folder.path.name == info.id
    assert registry.find(info.id) == folder
    assert registry.find("shop") == folder
    assert info.cwd == str(project)
    # Nothing is written into the project, and opening again changes nothing.
    assert sorted(p.name for p in project.iterdir()) == [".git"]
    before = folder.instance_file.read_bytes()
    assert registry.open_project(project) == folder
    assert folder.instance_file.read_bytes() == before
    registry.remove(folder)
    assert registry.managed_folders() == [managed]


def test_registered_folders_that_vanished_or_are_junk_are_skipped(tmp_path: Path) -> None:
    gone = registry.open_data_dir(tmp_path / "gone")
    kept = registry.open_data_dir(tmp_path / "kept")
    registry.register(gone)
    registry.register(kept)
    for path in sorted(gone.path.rglob("*"), reverse=True):
        path.unlink()
    gone.path.rmdir()
    root = registry.registered_root()
    (root / "junk.json").write_text("{not json")
    (root / "relative.json").write_text(json.dumps({"path": "relative/.murmuration"}))
    (root / "number.json").write_text(json.dumps({"path": 7}))
    assert registry.managed_folders() == [kept]
    assert registry.find("kept") == kept


def test_concurrent_opens_of_one_project_make_one_instance(tmp_path: Path) -> None:
    project = git_project(tmp_path, "race")
    code = (
        "import sys; from pathlib import Path; from murmuration import registry; "
        "print(registry.open_project(Path(sys.argv[1])).read_info().id)"
    )
    racers = [
        subprocess.Popen([sys.executable, "-c", code, str(project)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    ids = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert all(racer.returncode == 0 for racer in racers)
    assert len(ids) == 1
    (folder,) = registry.managed_folders()
    assert folder.read_info().id in ids
    assert not [p for p in folder.path.iterdir() if p.name.endswith(".new")]


def test_concurrent_opens_of_many_projects_all_land(tmp_path: Path) -> None:
    projects = [git_project(tmp_path, f"p{n}") for n in range(8)]
    gate = threading.Barrier(len(projects))

    def open_one(project: Path) -> None:
        gate.wait()
        registry.open_project(project)

    threads = [threading.Thread(target=open_one, args=(p,)) for p in projects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(f.read_info().cwd for f in registry.managed_folders()) == sorted(str(p) for p in projects)


def test_bridge_folder_by_name_by_data_dir_and_by_default(tmp_path: Path) -> None:
    repo = git_project(tmp_path, "repo")
    (repo / "lib").mkdir()
    default = bridge_folder(None, None, repo / "lib")
    assert default.path.parent == projects_folder()
    assert default.read_info().cwd == str(repo)
    assert bridge_folder(default.read_info().id, None, tmp_path) == default
    chosen = bridge_folder(None, "data/here", tmp_path)
    assert chosen.path == tmp_path / "data" / "here"
    assert chosen.read_info().name == "here"
    assert registry.find(chosen.read_info().id) == chosen


async def test_mcp_with_an_unknown_instance_exits_1_saying_so(tmp_path: Path) -> None:
    result = await cli("mcp", "--instance", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "No instance is named 'nowhere'" in result.stderr
    assert not (tmp_path / ".murmuration").exists()


async def test_mcp_with_a_data_dir_serves_that_folder(tmp_path: Path) -> None:
    data = tmp_path / "shared-board"
    async with bridge(tmp_path, "--data-dir", str(data)) as client:
        info = await ok(client, "get_instance_info")
    assert info["name"] == "shared-board"
    assert registry.find(info["id"]).path == data
    assert not (tmp_path / ".murmuration").exists()


@needs_another_user
def test_a_folder_another_group_may_write_is_not_crossed_but_a_private_group_is(tmp_path: Path) -> None:
    outer = git_project(tmp_path, "outer")
    project = outer / "inner"
    project.mkdir()
    outer.chmod(0o775)
    os.chown(outer, 0, NOBODY)  # a group of other users may write in it
    assert project_root(project) == project
    os.chown(outer, 0, 0)  # root's own group: writable by root alone
    assert project_root(project) == outer
