"""`murmuration serve` as real processes: the ready line, runtime files, the port order,
exit codes 1/2/3, clean stops, crashes and stale runtime files, the server's own log, and bad input."""

from __future__ import annotations

import http.client
import json
import logging
import logging.handlers
import signal
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.datafolder import DataFolder
from murmuration.lock import FolderLock
from murmuration.server import logfile
from murmuration.server.logfile import open_server_log
from tests.conftest import ServeProcess, Servers, port_block, range_text, run_cli

EXIT_TIMEOUT = 60.0


# --- helpers --------------------------------------------------------------------------------------------------


@contextmanager
def held(port: int) -> Iterator[socket.socket]:
    """Another program listening on `port` (SO_REUSEADDR only to ignore TIME_WAIT; a listener still excludes)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        yield sock
    finally:
        sock.close()


def get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


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


def outcome(server: ServeProcess, timeout: float = EXIT_TIMEOUT) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a server expected to exit by itself."""
    try:
        out, err = server.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`serve` kept running for {timeout:.0f} s instead of exiting") from None
    server.stderr += err
    return server.proc.returncode, out.decode(), err.decode()


def stop(server: ServeProcess, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
    """Signal a ready server and collect how it exited and what else it printed."""
    server.signal(signum)
    return outcome(server)


def folder_named(name: str) -> DataFolder:
    return registry.find(name)


def ls_json() -> dict[str, dict[str, Any]]:
    result = run_cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def one_sentence(stderr: str) -> str:
    """The error line, checked to be one line and one sentence, without a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.endswith("."), line
    return line


def port_of(server: ServeProcess) -> int:
    assert server.ready is not None
    port: int = server.ready["port"]
    return port


# --- ready line and runtime files -------------------------------------------------------------------------------


def test_ready_line_is_exactly_one_json_line(servers: Servers) -> None:
    server = servers.spawn("--instance", "Ready Test")
    assert server.proc.stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(server.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(EXIT_TIMEOUT)
    assert line, "no ready line"
    assert line[0], "no ready line"
    raw = line[0].decode()
    port = json.loads(raw)["port"]
    expected = {
        "event": "ready",
        "instance": "ready-test",
        "name": "Ready Test",
        "pid": server.proc.pid,
        "port": port,
        "url": f"http://127.0.0.1:{port}/",
    }
    assert raw == json.dumps(expected) + "\n"
    assert port in port_block(0)
    assert healthz(port)["instance"] == "ready-test"
    code, rest, _ = stop(server)
    assert code == 0
    assert rest == "", "nothing but the ready line may appear on stdout"


def test_runtime_files_while_running(servers: Servers) -> None:
    server = servers.start("--instance", "rt")
    folder = folder_named("rt")
    port = port_of(server)

    assert folder.runtime_file.is_file()
    assert stat.S_IMODE(folder.runtime_file.stat().st_mode) == 0o600
    runtime = json.loads(folder.runtime_file.read_text())
    assert {"pid", "port", "url", "token", "started_at", "version"} <= runtime.keys()
    assert (runtime["pid"], runtime["port"], runtime["url"]) == (server.proc.pid, port, f"http://127.0.0.1:{port}/")
    assert runtime["version"] == healthz(port)["version"]

    assert stat.S_IMODE(folder.token_file.stat().st_mode) == 0o600
    token = folder.token_file.read_text().strip()
    assert runtime["token"] == token
    assert len(token) >= 22  # at least 128 bits in url-safe base64
    assert token not in " ".join(psutil.Process(server.proc.pid).cmdline())

    assert folder.read_info().last_port == port
    assert stat.S_IMODE(folder.lock_file.stat().st_mode) == 0o600

    assert stop(server)[0] == 0
    assert not folder.runtime_file.exists()
    assert folder.read_info().last_port == port


# --- port order -----------------------------------------------------------------------------------------------


def test_fixed_port_from_the_command_line(servers: Servers) -> None:
    port = port_block(1)[17]
    server = servers.start("--instance", "fixed", "--port", str(port))
    assert port_of(server) == port
    assert healthz(port)["instance"] == "fixed"


def test_fixed_port_from_ws_port(servers: Servers) -> None:
    port = port_block(1)[18]
    server = servers.start("--instance", "ws", env={"WS_PORT": str(port)})
    assert port_of(server) == port


def test_command_line_port_wins_over_ws_port(servers: Servers) -> None:
    ports = port_block(1)
    server = servers.start("--instance", "both", "--port", str(ports[19]), env={"WS_PORT": str(ports[20])})
    assert port_of(server) == ports[19]


def test_restart_takes_back_its_last_port_then_falls_back_to_the_range(servers: Servers) -> None:
    ports = port_block(2)[:10]
    env = {"MURMURATION_PORT_RANGE": range_text(ports)}
    with held(ports[0]):
        first = servers.start("--instance", "sticky", env=env)
        assert port_of(first) == ports[1]
        assert stop(first)[0] == 0
    # The first port of the range is free again, yet the instance keeps its port: bookmarks stay valid.
    second = servers.start("--instance", "sticky", env=env)
    assert port_of(second) == ports[1]
    assert stop(second)[0] == 0
    # Its last port is taken now: the first free port of the range, and that becomes the new last port.
    with held(ports[1]):
        third = servers.start("--instance", "sticky", env=env)
        assert port_of(third) == ports[0]
        assert folder_named("sticky").read_info().last_port == ports[0]


def test_exhausted_range_falls_back_to_an_ephemeral_port(servers: Servers) -> None:
    ports = port_block(2)[20:22]
    with held(ports[0]), held(ports[1]):
        server = servers.start("--instance", "eph", env={"MURMURATION_PORT_RANGE": range_text(ports)})
        port = port_of(server)
        assert port not in ports
        assert port > 0
        assert healthz(port)["instance"] == "eph"


def test_servers_starting_together_get_distinct_ports(servers: Servers) -> None:
    ports = port_block(3)[:10]
    env = {"MURMURATION_PORT_RANGE": range_text(ports)}
    spawned = [servers.spawn("--instance", f"together-{n}", env=env) for n in range(4)]
    got = [s.wait_ready()["port"] for s in spawned]
    assert len(set(got)) == 4
    assert set(got) <= set(ports)


# --- exit 2: a busy fixed port ----------------------------------------------------------------------------------


def test_busy_fixed_port_held_by_one_of_ours_names_it(servers: Servers) -> None:
    first = servers.start("--instance", "alpha")
    port = port_of(first)
    second = servers.spawn("--instance", "beta", "--port", str(port))
    code, out, err = outcome(second)
    assert code == 2
    assert out == "", "a busy fixed port must never move silently elsewhere"
    line = one_sentence(err)
    assert "'alpha'" in line
    assert f"pid {first.proc.pid}" in line
    assert str(port) in line
    assert "--port" in line
    assert healthz(port)["instance"] == "alpha"


@pytest.mark.parametrize("how", ["--port", "WS_PORT"])
def test_busy_fixed_port_held_by_another_program(servers: Servers, how: str) -> None:
    first = servers.start("--instance", "alpha")
    port = port_block(4)[33]
    with held(port) as holder:
        args, env = (["--port", str(port)], {}) if how == "--port" else ([], {"WS_PORT": str(port)})
        code, out, err = outcome(servers.spawn("--instance", "beta", *args, env=env))
        assert code == 2
        assert out == ""
        line = one_sentence(err)
        assert "another program" in line
        assert str(port) in line
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the holder still has its port
        assert holder.getsockname()[1] == port
    assert healthz(port_of(first))["instance"] == "alpha"


# --- exit 3: one live server per data folder --------------------------------------------------------------------


def test_second_server_on_a_data_folder_exits_3_naming_the_owner(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "proj" / ".murmuration"
    first = servers.start("--data-dir", str(data))
    url = first.ready["url"] if first.ready else ""
    code, out, err = outcome(servers.spawn("--data-dir", str(data)))
    assert code == 3
    assert out == ""
    line = one_sentence(err)
    assert f"pid {first.proc.pid}" in line
    assert url in line
    assert healthz(port_of(first))["instance"] == "proj"
    # The loser touched nothing the owner published.
    assert json.loads((data / "runtime.json").read_text())["pid"] == first.proc.pid


def test_second_server_on_an_instance_by_name_exits_3(servers: Servers) -> None:
    first = servers.start("--instance", "solo")
    code, _, err = outcome(servers.spawn("--instance", "solo", "--port", str(port_block(4)[40])))
    assert code == 3
    assert f"pid {first.proc.pid}" in one_sentence(err)
    assert healthz(port_of(first))["instance"] == "solo"


def test_two_servers_racing_for_a_new_instance_yield_one_owner(servers: Servers) -> None:
    racers = [servers.spawn("--instance", "racer") for _ in range(2)]
    ready: list[ServeProcess] = []
    refused: list[tuple[int, str]] = []
    for racer in racers:
        assert racer.proc.stdout is not None
        line = racer.proc.stdout.readline()
        if line:
            racer.ready = json.loads(line)
            ready.append(racer)
        else:
            code, _, err = outcome(racer)
            refused.append((code, err))
    assert len(ready) == 1, refused
    assert [code for code, _ in refused] == [3]
    assert f"pid {ready[0].proc.pid}" in refused[0][1]
    assert [f.path.name for f in registry.managed_folders()] == ["racer"]


# --- clean stops ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_frees_the_folder(servers: Servers, signum: int) -> None:
    server = servers.start("--instance", "sig")
    folder = folder_named("sig")
    code, _, err = stop(server, signum)
    assert code == 0, err
    assert "Traceback" not in err
    assert not folder.runtime_file.exists()
    with FolderLock(folder.lock_file):
        pass  # free again: taking its lock did not raise FolderLocked
    again = servers.start("--instance", "sig")
    assert healthz(port_of(again))["instance"] == "sig"


async def test_shutdown_operation_stops_cleanly(servers: Servers) -> None:
    server = servers.start("--instance", "rpc-stop")
    folder = folder_named("rpc-stop")
    async with await InstanceClient.for_folder(folder) as client:
        result = await client.call("shutdown")
    assert result["stopping"] is True
    code, _, err = outcome(server)
    assert code == 0, err
    assert not folder.runtime_file.exists()
    with FolderLock(folder.lock_file):
        pass  # free again: taking its lock did not raise FolderLocked


# --- crashes and stale runtime files -----------------------------------------------------------------------------


def test_killed_server_is_stale_and_start_takes_over(servers: Servers, cli_instances: list[str]) -> None:
    server = servers.start("--instance", "crash")
    folder = folder_named("crash")
    old_pid = server.proc.pid
    server.signal(signal.SIGKILL)
    assert server.finish() == -signal.SIGKILL
    assert folder.runtime_file.exists()

    row = ls_json()["crash"]
    assert row["status"] == "crashed"

    cli_instances.append("crash")
    started = run_cli("start", "crash")
    assert started.returncode == 0, started.stderr
    row = ls_json()["crash"]
    assert row["status"] == "running"
    assert row["pid"] not in (None, old_pid)
    assert row["url"] in started.stdout
    assert healthz(row["port"])["instance"] == "crash"
    assert json.loads(folder.runtime_file.read_text())["pid"] == row["pid"]


def test_runtime_file_with_a_reused_pid_is_stale_and_that_pid_is_never_signalled(home: Path) -> None:
    folder = registry.create("reused", home)
    me = psutil.Process()
    folder.runtime_file.write_text(
        json.dumps(
            {
                "pid": me.pid,  # alive, but not the process that wrote the file
                "port": port_block(4)[50],
                "url": f"http://127.0.0.1:{port_block(4)[50]}/",
                "token": "x" * 43,
                "started_at": "2020-01-01T00:00:00+00:00",
                "version": "0.1.0",
                "create_time": me.create_time() - 1000.0,
            }
        )
    )
    assert ls_json()["reused"]["status"] == "crashed"
    result = run_cli("stop", "reused", "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout
    assert me.is_running()
    assert not folder.runtime_file.exists()


# --- the server's log -----------------------------------------------------------------------------------------


def test_server_log_is_written_without_the_token(servers: Servers) -> None:
    server = servers.start("--instance", "logged")
    folder = folder_named("logged")
    port = port_of(server)
    token = folder.token_file.read_text().strip()
    assert get(port, f"/login?token={token}").status == 410
    assert get(port, f"/login?token={token}x").status == 410
    assert stop(server)[0] == 0
    text = folder.server_log.read_text()
    assert "serving logged (logged)" in text
    assert "stopping" in text
    assert token not in text


@pytest.fixture
def murmuration_logger() -> Iterator[logging.Logger]:
    """The `murmuration` logger, restored after a test that attaches a server log to it."""
    root = logging.getLogger("murmuration")
    ws = logging.getLogger("murmuration.websockets")
    saved = (root.level, ws.level, list(root.handlers))
    yield root
    for handler in root.handlers:
        if handler not in saved[2]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved[0])
    ws.setLevel(saved[1])


def test_server_log_rotates_and_keeps_three_backups(tmp_path: Path, murmuration_logger: logging.Logger) -> None:
    path = tmp_path / "logs" / "server.log"
    handler, _ = open_server_log(path, ["unused-secret"])
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (logfile.MAX_BYTES, logfile.BACKUPS)
    log = logging.getLogger("murmuration.test.rotation")
    chunk = "y" * 8000
    for n in range((logfile.BACKUPS + 2) * logfile.MAX_BYTES // len(chunk)):
        log.info("record %d %s", n, chunk)
    handler.flush()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["server.log", *(f"server.log.{n}" for n in range(1, logfile.BACKUPS + 1))]
    for name in files:
        assert (path.parent / name).stat().st_size <= logfile.MAX_BYTES
    # The newest record is in the current file, an older one in a backup.
    assert f"record {n} " in path.read_text()


def test_redact_scrubs_secrets_from_messages_and_tracebacks(tmp_path: Path, murmuration_logger: logging.Logger) -> None:
    secret = "s3cret-TOKEN-value-0123456789abcdefghijkl"
    path = tmp_path / "server.log"
    handler, _ = open_server_log(path, [secret, ""])
    log = logging.getLogger("murmuration.test.redact")
    log.info("token in args: %s", secret)
    log.warning(f"token in the message itself: {secret}")
    log.info("login path /login?token=%s&x=1", secret)
    try:
        raise RuntimeError(f"failed with {secret}")
    except RuntimeError:
        log.exception("boom")
    log.debug("below the level: %s", secret)
    handler.flush()
    text = path.read_text()
    assert secret not in text
    assert text.count("[redacted]") == 4
    assert "RuntimeError: failed with [redacted]" in text
    assert "Traceback" in text
    assert "below the level" not in text


def test_the_websockets_logger_is_kept_quiet(tmp_path: Path, murmuration_logger: logging.Logger) -> None:
    # Handshake debug lines carry request paths, and /login paths carry secrets.
    open_server_log(tmp_path / "server.log", [])
    assert logging.getLogger("murmuration.websockets").getEffectiveLevel() >= logging.WARNING


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "setting"),
    [
        (["--port", "abc"], {}, "--port"),
        (["--port", "0"], {}, "--port"),
        (["--port", "70000"], {}, "--port"),
        (["--port", "-5"], {}, "--port"),
        ([], {"WS_PORT": "x"}, "WS_PORT"),
        ([], {"WS_PORT": "0"}, "WS_PORT"),
        ([], {"MURMURATION_PORT_RANGE": "9000"}, "MURMURATION_PORT_RANGE"),
        ([], {"MURMURATION_PORT_RANGE": "b-a"}, "MURMURATION_PORT_RANGE"),
        ([], {"MURMURATION_PORT_RANGE": "9100-9000"}, "MURMURATION_PORT_RANGE"),
        ([], {"MURMURATION_PORT_RANGE": "0-10"}, "MURMURATION_PORT_RANGE"),
        ([], {"MURMURATION_PORT_RANGE": "1-99999"}, "MURMURATION_PORT_RANGE"),
    ],
)
def test_bad_port_settings_exit_1_naming_the_setting(
    servers: Servers, home: Path, args: list[str], env: dict[str, str], setting: str
) -> None:
    code, out, err = outcome(servers.spawn("--instance", "bad", *args, env=env))
    assert code == 1
    assert out == ""
    assert setting in one_sentence(err)
    assert registry.managed_folders() == [], "a refused serve must not create the instance"


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--instance", "x", "--data-dir", "/tmp/somewhere"],
        ["serve"],
        ["serve", "--port", "9000"],
    ],
)
def test_serve_needs_exactly_one_of_instance_and_data_dir(home: Path, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_sentence(result.stderr)
    assert "--instance" in line or "--data-dir" in line
    assert not home.exists()


BROKEN_INSTANCE_FILES = {
    "not json": "{this is not json",
    "empty file": "",
    "json array": '["id", "name"]',
    "json null": "null",
    "missing name": json.dumps({"id": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/"}),
    "empty name": json.dumps({"id": "broken", "name": "", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/"}),
    "last_port a string": json.dumps(
        {"id": "broken", "name": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/", "last_port": "8080"}
    ),
    "last_port true": json.dumps(
        {"id": "broken", "name": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/", "last_port": True}
    ),
    "last_port 0": json.dumps(
        {"id": "broken", "name": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/", "last_port": 0}
    ),
    "last_port 70000": json.dumps(
        {"id": "broken", "name": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/", "last_port": 70000}
    ),
    "last_port negative": json.dumps(
        {"id": "broken", "name": "broken", "created_at": "2020-01-01T00:00:00+00:00", "cwd": "/", "last_port": -1}
    ),
}


@pytest.mark.parametrize("where", ["--instance", "--data-dir"])
@pytest.mark.parametrize("content", list(BROKEN_INSTANCE_FILES.values()), ids=list(BROKEN_INSTANCE_FILES))
def test_broken_instance_json_exits_1_naming_the_file_and_keeps_it(
    servers: Servers, home: Path, tmp_path: Path, where: str, content: str
) -> None:
    data = home / "instances" / "broken" if where == "--instance" else tmp_path / "proj" / ".murmuration"
    data.mkdir(parents=True)
    instance_file = data / "instance.json"
    instance_file.write_text(content)
    server = servers.spawn(where, "broken" if where == "--instance" else str(data))
    assert server.proc.stdout is not None
    ready = server.proc.stdout.readline()  # the ready line of a server that started anyway, or b"" at its exit
    assert ready == b"", f"served from a broken instance.json: {ready!r}"
    code, _, err = outcome(server)
    assert code == 1, f"exit {code}, stderr {err!r}"
    assert str(instance_file) in one_sentence(err)
    assert instance_file.read_text() == content
    assert not (data / "runtime.json").exists()
    assert [f.path.name for f in registry.managed_folders()] == (["broken"] if where == "--instance" else [])


def test_a_data_dir_that_is_a_file_exits_1(servers: Servers, tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("keep me")
    code, out, err = outcome(servers.spawn("--data-dir", str(path)))
    assert (code, out) == (1, "")
    one_sentence(err)
    assert path.read_text() == "keep me"
