"""The instance token stays in the data folder: never on a command line, in an environment, a log or an output.

A real server is put through sign-ins (good, wrong, hostile) and sign-in codes, then every place a secret
could leak to is searched for it: every process's command line, the server's environment, its stdout and
stderr, every file under logs/, every other file of the data folder, and what the CLI prints.
"""

from __future__ import annotations

import http.client
import json
import signal
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from murmuration import registry
from murmuration.client import socket_url
from murmuration.datafolder import DataFolder
from tests.conftest import Servers, run_cli

TIMEOUT = 10.0
NAME = "secrecy"


@dataclass
class Secrets:
    """What must not leak: the token (whole and in halves), dashboard sessions, sign-in codes."""

    token: str
    others: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        half = len(self.token) // 2
        return [self.token, self.token[:half], self.token[half:], *self.others]

    def find_in(self, text: str | bytes) -> list[str]:
        """The secrets (shortened, so a failure does not print them whole) that occur in `text`."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return [secret[:4] + "…" for secret in self.all() if secret in text]


@dataclass
class Answer:
    status: int
    body: bytes


def get(port: int, path: str, host: str | None = None, headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    connection.putrequest("GET", path, skip_host=host is not None)
    if host is not None:
        connection.putheader("Host", host)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    answer = Answer(response.status, response.read())
    connection.close()
    return answer


def call(url: str, token: str, method: str) -> dict[str, object]:
    with connect(socket_url(url), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}))
        answer = json.loads(ws.recv(timeout=TIMEOUT))
    assert "result" in answer, answer
    result: dict[str, object] = answer["result"]
    return result


def exercise(folder: DataFolder, secrets: Secrets) -> None:
    """Sign in every way there is, right and wrong, with the server's real token and codes in play."""
    runtime = folder.read_runtime()
    assert runtime is not None
    port, token = runtime.port, runtime.token

    # The token in a sign-in address is refused (the old way in), and so is a sign-in through a foreign Host.
    assert get(port, f"/login?token={token}").status == 410
    assert get(port, f"/login?token={token}", host="attacker.example").status == 403
    assert get(port, f"/login?token={token}&a=1&b=2&c=3&d=4").status == 400
    with pytest.raises(InvalidStatus):
        connect(socket_url(runtime.url), additional_headers={"Authorization": "Bearer not-the-token"}).close()

    code = call(runtime.url, token, "create_login_code")["code"]
    assert isinstance(code, str)
    secrets.others.append(code)
    session = get(port, "/session", headers={"Murmuration-Code": code})
    assert session.status == 200
    secrets.others.append(json.loads(session.body)["session"])
    assert get(port, "/session", headers={"Murmuration-Code": code}).status == 403
    assert get(port, "/session", headers={"Murmuration-Session": secrets.others[-1]}).status == 200

    printed = run_cli("url", NAME, "--login")
    assert printed.returncode == 0, printed.stderr
    secrets.others.append(printed.stdout.strip().rpartition("code=")[2])


def command_lines() -> Iterator[tuple[int, str]]:
    for process in psutil.process_iter():
        try:
            yield process.pid, "\0".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue


def check_processes(server_pid: int, secrets: Secrets) -> None:
    leaks = {pid: found for pid, line in command_lines() if (found := secrets.find_in(line))}
    assert leaks == {}, f"secrets on command lines: {leaks}"
    environment = psutil.Process(server_pid).environ()
    assert secrets.find_in("\0".join(f"{k}={v}" for k, v in environment.items())) == []


def check_cli(secrets: Secrets) -> None:
    for args in (("ls",), ("ls", "--json"), ("url", NAME)):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert secrets.find_in(result.stdout + result.stderr) == [], args


def check_files(folder: DataFolder, secrets: Secrets) -> None:
    logs = [path for path in folder.log_folder.rglob("*") if path.is_file()]
    assert folder.server_log in logs
    assert "serving" in folder.server_log.read_text()
    # The sessions made above are kept for the next start, as hashes only (the scan below finds no secret in them).
    assert stat.S_IMODE(folder.sessions_file.stat().st_mode) == 0o600
    for path in folder.path.rglob("*"):
        if path.is_file() and path != folder.token_file:
            assert secrets.find_in(path.read_bytes()) == [], path.relative_to(folder.path)


def check_modes(folder: DataFolder) -> None:
    for path in (folder.token_file, folder.runtime_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_served_instance_keeps_its_token_secret(servers: Servers) -> None:
    server = servers.start("--instance", NAME)
    folder = registry.find(NAME)
    runtime = folder.read_runtime()
    assert runtime is not None
    secrets = Secrets(runtime.token)
    assert server.ready is not None
    assert secrets.find_in(json.dumps(server.ready)) == []
    check_modes(folder)

    exercise(folder, secrets)
    check_processes(server.proc.pid, secrets)
    check_cli(secrets)

    server.signal(signal.SIGTERM)
    stdout, stderr = server.proc.communicate(timeout=30)
    assert server.proc.returncode == 0, stderr
    assert secrets.find_in(stdout) == []
    assert secrets.find_in(stderr) == []
    check_files(folder, secrets)


def test_a_started_instance_keeps_its_token_secret(cli_instances: list[str], tmp_path: Path) -> None:
    """`murmuration start` detaches the server and sends its stderr to logs/stderr.log."""
    assert run_cli("new", NAME, "--cwd", str(tmp_path)).returncode == 0
    cli_instances.append(NAME)
    started = run_cli("start", NAME)
    assert started.returncode == 0, started.stderr
    folder = registry.find(NAME)
    runtime = folder.read_runtime()
    assert runtime is not None
    secrets = Secrets(runtime.token)
    assert secrets.find_in(started.stdout + started.stderr) == []
    check_modes(folder)

    exercise(folder, secrets)
    check_processes(runtime.pid, secrets)
    check_cli(secrets)

    stopped = run_cli("stop", NAME)
    assert stopped.returncode == 0, stopped.stderr
    assert secrets.find_in(stopped.stdout + stopped.stderr) == []
    assert folder.stderr_log.is_file()
    check_files(folder, secrets)
