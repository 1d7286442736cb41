"""The command line as a user runs it: every command in a child process, real detached servers."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from murmuration import __version__, registry
from murmuration.control import ASK_TIMEOUT
from murmuration.datafolder import DataFolder
from tests.conftest import Servers, port_block, run_cli
from tests.waiting import until

# --- helpers --------------------------------------------------------------------------------------------------


def ok(*args: str) -> str:
    """Run a command that must succeed; its stdout."""
    result = run_cli(*args)
    assert result.returncode == 0, f"{args}: exit {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def fails(*args: str, code: int = 1) -> str:
    """Run a command that must fail with `code` and one sentence on stderr; that sentence."""
    result = run_cli(*args)
    assert result.returncode == code, f"{args}: exit {result.returncode}: {result.stdout} {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith("."), lines[0]
    return lines[0]


def new(name: str) -> str:
    """Create an instance with `murmuration new`; its id."""
    out = ok("new", name)
    match = re.search(r"\(id ([^)]+)\)", out)
    assert match, out
    return match.group(1)


def ls_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok("ls", "--json"))
    return rows


def row(name: str) -> dict[str, Any]:
    found = [r for r in ls_rows() if r["name"] == name]
    assert len(found) == 1, found
    return found[0]


def start(name: str, cli_instances: list[str]) -> dict[str, Any]:
    """`murmuration start NAME` (stopped after the test); the instance's `ls` row."""
    cli_instances.append(name)
    out = ok("start", name)
    info = row(name)
    assert info["status"] == "running", info
    assert out.strip() == f"{name} is running at {info['url']}"
    return info


def healthz(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200
        body: dict[str, Any] = json.loads(response.read())
        return body
    finally:
        conn.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def gone(process: psutil.Process) -> bool:
    """True when `process` has ended (a zombie has ended too; only its parent's bookkeeping is left)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def suspended(pid: int) -> Iterator[psutil.Process]:
    """SIGSTOP a server we started, so it cannot answer `shutdown`; killed at the end whatever happened."""
    process = psutil.Process(pid)
    process.suspend()
    try:
        yield process
    finally:
        if not gone(process):
            process.kill()
            until(lambda: gone(process), "the suspended server to die")


# --- new ------------------------------------------------------------------------------------------------------


def test_new_prints_the_id_and_creates_a_stopped_instance(home: Path, tmp_path: Path) -> None:
    out = ok("new", "My Project", "--cwd", str(tmp_path))
    assert "(id my-project)" in out
    assert "murmuration start my-project" in out
    info = DataFolder(home / "instances" / "my-project").read_info()
    assert (info.name, info.cwd) == ("My Project", str(tmp_path))
    assert row("My Project") == {
        "id": "my-project",
        "name": "My Project",
        "status": "stopped",
        "pid": None,
        "port": None,
        "url": None,
        "data_dir": str(home / "instances" / "my-project"),
    }


def test_new_with_a_duplicate_name_exits_1() -> None:
    new("twice")
    assert "already exists" in fails("new", "twice")
    assert "already exists" in fails("new", "  twice ")
    assert [r["name"] for r in ls_rows()] == ["twice"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\t \n", "empty"),
        ("x" * 81, "at most 80"),
        ("a\tb", "control"),
        ("a\nb", "control"),
        ("a\x1b[2Jb", "control"),
        ("bell\x07", "control"),
        ("a\u200bb", "control"),
    ],
)
def test_new_rejects_bad_names(home: Path, name: str, words: str) -> None:
    assert words in fails("new", name)
    assert registry.managed_folders() == []


def test_new_accepts_a_name_of_80_characters() -> None:
    assert new("x" * 80) == "x" * 40


@pytest.mark.parametrize(
    ("name", "expected_id"),
    [("../../etc", "etc"), ("Ünïcödé", "unicode"), ("a/b", "a-b"), ("/", "instance"), ("..", "instance")],
)
def test_new_gives_hostile_names_safe_ids_inside_the_home(
    home: Path, tmp_path: Path, name: str, expected_id: str
) -> None:
    before = sorted({p.name for p in tmp_path.iterdir()} | {home.name})
    assert new(name) == expected_id
    folder = home / "instances" / expected_id
    assert folder.is_dir()
    assert folder.resolve().parent == (home / "instances").resolve()
    assert row(name)["data_dir"] == str(folder)
    assert sorted(p.name for p in home.iterdir()) == ["instances", "user.key"]
    assert sorted(p.name for p in (home / "instances").iterdir()) == [expected_id]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_new_with_a_missing_cwd_exits_1(tmp_path: Path) -> None:
    assert "is not a folder" in fails("new", "x", "--cwd", str(tmp_path / "nowhere"))


# --- set ------------------------------------------------------------------------------------------------------


def test_set_cwd_changes_the_project_folder_of_an_instance(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    new("moving")
    assert f"now run in {project}" in ok("set", "moving", "--cwd", str(project))
    assert DataFolder(home / "instances" / "moving").read_info().cwd == str(project)


def test_set_cwd_refuses_what_is_not_a_folder_and_keeps_the_old_one(home: Path, tmp_path: Path) -> None:
    new("staying")
    before = DataFolder(home / "instances" / "staying").read_info().cwd
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    for bad in (str(tmp_path / "nowhere"), str(a_file)):
        assert "is not a folder" in fails("set", "staying", "--cwd", bad)
    assert "Nothing to change" in fails("set", "staying")
    assert "No instance is named" in fails("set", "ghost", "--cwd", str(tmp_path))
    assert DataFolder(home / "instances" / "staying").read_info().cwd == before


# --- ls -------------------------------------------------------------------------------------------------------


def test_ls_of_an_empty_home() -> None:
    assert ok("ls") == "No instances yet; create one with `murmuration new NAME`.\n"
    assert json.loads(ok("ls", "--json")) == []


def test_ls_shows_running_stopped_and_crashed(servers: Servers, cli_instances: list[str]) -> None:
    new("idle")
    new("busy")
    running = start("busy", cli_instances)
    crashed = servers.start("--instance", "crashed")
    crashed.signal(signal.SIGKILL)
    crashed.finish()

    rows = {r["name"]: r for r in ls_rows()}
    assert set(rows) == {"idle", "busy", "crashed"}
    assert (rows["idle"]["status"], rows["idle"]["pid"], rows["idle"]["port"]) == ("stopped", None, None)
    assert rows["crashed"]["status"] == "crashed"
    busy = rows["busy"]
    assert busy == running
    assert busy["status"] == "running"
    assert psutil.pid_exists(busy["pid"])
    assert busy["url"] == f"http://127.0.0.1:{busy['port']}/"
    assert busy["port"] in port_block(0)
    assert healthz(busy["port"])["instance"] == "busy"

    lines = ok("ls").splitlines()
    assert lines[0].split() == ["NAME", "ID", "STATUS", "PID", "PORT", "URL", "DATA_DIR"]
    table = {line.split()[0]: line.split() for line in lines[1:]}
    assert table["busy"][2:6] == ["running", str(busy["pid"]), str(busy["port"]), busy["url"]]
    assert table["idle"][2:6] == ["stopped", "-", "-", "-"]
    assert table["crashed"][2] == "crashed"


# --- start ----------------------------------------------------------------------------------------------------


def test_start_detaches_the_server_and_prints_its_url(cli_instances: list[str]) -> None:
    new("bg")
    info = start("bg", cli_instances)
    # The CLI has exited; the server lives on in a session of its own, not a child of this test.
    server = psutil.Process(info["pid"])
    assert server.is_running()
    assert server.ppid() != os.getpid()
    assert os.getsid(info["pid"]) == info["pid"]
    assert healthz(info["port"])["instance"] == "bg"


def test_start_of_a_running_instance_says_so(cli_instances: list[str]) -> None:
    new("again")
    info = start("again", cli_instances)
    out = ok("start", "again")
    assert out.strip() == f"again is running at {info['url']} (already running)"
    assert row("again")["pid"] == info["pid"]


def test_start_of_an_unknown_name_points_to_ls() -> None:
    assert "`murmuration ls`" in fails("start", "nobody")


def test_start_reports_why_the_server_could_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    new("blocked")
    port = port_block(9)[3]
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        monkeypatch.setenv("WS_PORT", str(port))
        line = fails("start", "blocked", code=2)
    finally:
        holder.close()
    assert "another program" in line
    assert row("blocked")["status"] == "stopped"


# --- stop -----------------------------------------------------------------------------------------------------


def test_stop_stops_gracefully(cli_instances: list[str]) -> None:
    new("calm")
    info = start("calm", cli_instances)
    server = psutil.Process(info["pid"])
    assert ok("stop", "calm").strip() == "Stopped calm."
    until(lambda: gone(server), "the server to end")
    folder = registry.find("calm")
    assert not folder.runtime_file.exists()
    assert row("calm")["status"] == "stopped"
    assert "stopping" in folder.server_log.read_text(), "the server ran its own shutdown"


def test_stop_of_a_stopped_instance_says_so() -> None:
    new("sleepy")
    assert ok("stop", "sleepy").strip() == "sleepy was not running."


def test_stop_of_an_unknown_name_exits_1() -> None:
    assert "`murmuration ls`" in fails("stop", "nobody")


def test_stop_ends_a_frozen_server_that_cannot_answer_shutdown(cli_instances: list[str]) -> None:
    new("frozen")
    info = start("frozen", cli_instances)
    with suspended(info["pid"]) as server:
        began = time.monotonic()
        out = ok("stop", "frozen", "--timeout", "3")
        elapsed = time.monotonic() - began
        assert out.strip() == "Stopped frozen."
        assert gone(server)
    assert elapsed >= ASK_TIMEOUT, "it was signalled before its polite shutdown request had its time"
    # SIGTERM, then let run again: it shuts itself down cleanly rather than being killed.
    assert "stopping" in registry.find("frozen").server_log.read_text()
    assert not registry.find("frozen").runtime_file.exists()
    assert row("frozen")["status"] == "stopped"


def test_stop_timeout_bounds_the_whole_stop(cli_instances: list[str]) -> None:
    """`--timeout S` is "seconds before force": a server that cannot answer is killed after about S seconds.

    Today the polite request alone can take 5 s more (InstanceClient's fixed open timeout), and the `shutdown`
    call itself has no timeout at all.
    """
    new("stuck")
    info = start("stuck", cli_instances)
    with suspended(info["pid"]) as server:
        began = time.monotonic()
        run_cli("stop", "stuck", "--timeout", "1")
        elapsed = time.monotonic() - began
        assert gone(server)
    # 1 s of grace plus generous room for the CLI's own start-up and the kill.
    assert elapsed < 1 + 3.5, f"stop --timeout 1 took {elapsed:.1f} s"


def test_stop_counts_an_exited_server_as_stopped_even_before_it_is_reaped(servers: Servers) -> None:
    """A server whose parent has not reaped it yet has exited: `stop` must not wait for, kill, or crash on it.

    The server here is a child of the test, which reaps it only after `stop` returns — as a tray, an IDE, or a
    container's pid 1 that reaps orphans late (or never) would. Today `stop` waits the whole timeout on the
    zombie, "kills" it, waits again, and dies with psutil.TimeoutExpired (exit 1, a traceback).
    """
    server = servers.start("--instance", "unreaped")
    began = time.monotonic()
    # A timeout far above what a CLI start takes on a loaded machine: waiting it out is unmistakable.
    result = run_cli("stop", "unreaped", "--timeout", "30")
    elapsed = time.monotonic() - began
    assert server.finish() == 0, "the server shut down by itself, gracefully"
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert (result.returncode, result.stdout.strip()) == (0, "Stopped unreaped.")
    assert elapsed < 30, "it waited out the timeout on a process that had already exited"


# --- url ------------------------------------------------------------------------------------------------------


def test_url_prints_the_dashboard_address(cli_instances: list[str]) -> None:
    new("site")
    info = start("site", cli_instances)
    assert ok("url", "site") == info["url"] + "\n"
    assert ok("url", "site") == ok("url", "site")


def test_url_of_a_stopped_instance_exits_1() -> None:
    new("dark")
    assert "not running" in fails("url", "dark")
    assert "not running" in fails("url", "dark", "--login")


def test_url_of_an_unknown_name_exits_1() -> None:
    assert "`murmuration ls`" in fails("url", "nobody")


def redeem(link: str) -> tuple[int, bytes]:
    """Trade the code of a sign-in link for a session, as the page it opens does."""
    code = link.rpartition("code=")[2]
    response, body = get(link.partition("login?")[0] + "session", {"Murmuration-Code": code})
    assert response.getheader("Set-Cookie") is None
    return response.status, body


def test_login_link_signs_in_exactly_once(cli_instances: list[str]) -> None:
    new("door")
    info = start("door", cli_instances)
    link = ok("url", "door", "--login").strip()
    assert re.fullmatch(re.escape(info["url"]) + r"login\?code=[A-Za-z0-9_-]{16,}", link), link

    page, body = get(link)
    assert page.status == 200
    assert b"/assets/app.js" in body
    status, answer = redeem(link)
    assert status == 200
    session = json.loads(answer)["session"]
    assert redeem(link)[0] == 403

    checked, _ = get(info["url"] + "session", {"Murmuration-Session": session})
    assert checked.status == 200


def test_each_login_link_is_its_own(cli_instances: list[str]) -> None:
    new("doors")
    start("doors", cli_instances)
    first = ok("url", "doors", "--login").strip()
    second = ok("url", "doors", "--login").strip()
    assert first != second
    assert redeem(second)[0] == 200
    assert redeem(first)[0] == 200
    assert redeem(first)[0] == 403
    assert redeem(second)[0] == 403


def test_revoke_signs_every_browser_out(cli_instances: list[str]) -> None:
    new("gate")
    info = start("gate", cli_instances)
    assert ok("url", "gate", "--sessions") == "0 browser sessions signed in to gate.\n"
    sessions = [json.loads(redeem(ok("url", "gate", "--login").strip())[1])["session"] for _ in range(2)]
    listed = ok("url", "gate", "--sessions").splitlines()
    assert re.fullmatch(r"2 browser sessions signed in to gate; last use \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.", listed[0])
    assert len(listed) == 3
    assert all(line.startswith("  signed in ") for line in listed[1:])
    assert not any(session in "".join(listed) for session in sessions)
    assert (
        ok("url", "gate", "--revoke")
        == "Signed out 2 browser sessions of gate; open dashboards need a new sign-in link.\n"
    )
    for session in sessions:
        checked, _ = get(info["url"] + "session", {"Murmuration-Session": session})
        assert checked.status == 401
    assert ok("url", "gate", "--revoke").startswith("Signed out 0 browser sessions of gate;")
    assert "not allowed with argument" in run_cli("url", "gate", "--login", "--revoke").stderr


def test_revoke_on_a_stopped_instance_exits_1() -> None:
    new("shut")
    assert "not running" in fails("url", "shut", "--revoke")


# --- rm -------------------------------------------------------------------------------------------------------


def test_rm_refuses_while_running(cli_instances: list[str]) -> None:
    new("keep")
    info = start("keep", cli_instances)
    line = fails("rm", "keep")
    assert str(info["pid"]) in line
    assert "murmuration stop keep" in line
    assert registry.find("keep").path.is_dir()
    assert healthz(info["port"])["instance"] == "keep"


def test_rm_removes_a_stopped_instance(home: Path, cli_instances: list[str]) -> None:
    new("bye")
    start("bye", cli_instances)
    ok("stop", "bye")
    assert "Removed bye" in ok("rm", "bye")
    assert not (home / "instances" / "bye").exists()
    assert ls_rows() == []
    assert "`murmuration ls`" in fails("rm", "bye")


LOCK_HOLDER = """
import sys
from pathlib import Path
from murmuration.lock import FolderLock

FolderLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_rm_refuses_while_a_server_holds_the_folder_lock(home: Path) -> None:
    """A server owns its folder from the moment it takes the lock, before runtime.json exists (it is starting).

    `rm` looks only at runtime.json, so today it deletes the folder from under that server.
    """
    new("starting")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(home / "instances" / "starting" / ".lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        result = run_cli("rm", "starting")
        assert result.returncode == 1, result.stdout
        assert (home / "instances" / "starting").is_dir()
    finally:
        holder.kill()
        holder.communicate(timeout=30)


# --- the program itself -----------------------------------------------------------------------------------------


def test_version() -> None:
    assert ok("--version") == f"murmuration {__version__}\n"


def test_help_lists_every_command() -> None:
    # `murmuration` alone is the tray; tests/tray covers it.
    out = ok("--help")
    assert out.startswith("usage: murmuration")
    for command in ("serve", "new", "ls", "start", "stop", "url", "rm", "mcp", "tray"):
        assert command in out


def test_an_unknown_command_exits_1() -> None:
    line = fails("frobnicate")
    assert "frobnicate" in line
    assert "murmuration --help" in line


def test_a_missing_argument_exits_1() -> None:
    assert "NAME" in fails("start")
