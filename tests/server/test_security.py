"""The security rules (docs/ARCHITECTURE.md, "Security"), each tested by an attack on a real server over real sockets.

Most requests are written by hand on a raw socket, so no client library fixes up the Host header,
normalises a path or refuses an odd header before the server gets to judge it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from murmuration import __version__
from murmuration.client import InstanceClient, socket_url
from murmuration.server.app import MAX_MESSAGE
from murmuration.server.connections import Budget, open_files_limit
from murmuration.server.lifecycle import RunningInstance
from tests.waiting import until_async

TIMEOUT = 10.0
CSP = "default-src 'self'; frame-ancestors 'none'"


@dataclass
class Reply:
    """One HTTP response as it came off the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]


def upgrade_headers() -> list[tuple[str, str]]:
    """The headers that make a GET a WebSocket upgrade."""
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
        ("Sec-WebSocket-Version", "13"),
    ]


def own_host(instance: RunningInstance) -> str:
    return f"127.0.0.1:{instance.ctx.port}"


def own_origin(instance: RunningInstance) -> str:
    return f"http://{own_host(instance)}"


def other_port(instance: RunningInstance) -> int:
    return instance.ctx.port + 1 if instance.ctx.port < 65535 else instance.ctx.port - 1


def fill(template: str, instance: RunningInstance) -> str:
    """A test value with {port}, {other} and {token} replaced by this instance's."""
    return template.format(port=instance.ctx.port, other=other_port(instance), token=instance.token)


async def raw_get(
    instance: RunningInstance, path: str, headers: Sequence[tuple[str, str]] = (), host: str | None = "own"
) -> Reply:
    """Send `GET path` exactly as given, with `host` as the Host header ("own" for the right one, None for none)."""
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {own_host(instance) if host == 'own' else host}")
    lines += [f"{name}: {value}" for name, value in headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    reader, writer = await asyncio.open_connection("127.0.0.1", instance.ctx.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        status = int(status_line.split(" ", 2)[1])
        parsed = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in header_lines)]
        reply = Reply(status, parsed, b"")
        if status != 101:
            length = reply.header("Content-Length")
            reply.body = await asyncio.wait_for(
                reader.readexactly(int(length)) if length is not None else reader.read(), TIMEOUT
            )
        return reply
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def sign_in(instance: RunningInstance) -> str:
    """Sign in as a browser would, and return the `name=value` pair to send back as the Cookie header."""
    reply = await raw_get(instance, f"/login?token={instance.token}")
    assert reply.status == 303
    set_cookie = reply.header("Set-Cookie")
    assert set_cookie is not None
    return set_cookie.split(";", 1)[0]


async def open_socket(instance: RunningInstance, **kwargs: Any) -> ClientConnection:
    return await connect(socket_url(instance.url), open_timeout=TIMEOUT, **kwargs)


async def try_open(instance: RunningInstance, **kwargs: Any) -> ClientConnection | int:
    """An open connection, or the HTTP status with which the server refused the upgrade."""
    try:
        return await open_socket(instance, **kwargs)
    except InvalidStatus as exc:
        return exc.response.status_code


async def refused_status(instance: RunningInstance, **kwargs: Any) -> int:
    """The HTTP status with which the server refuses this upgrade (fails the test when it is accepted)."""
    result = await try_open(instance, **kwargs)
    if not isinstance(result, int):
        await result.close()
        raise AssertionError("the server accepted an upgrade it should have refused")
    return result


async def call(connection: ClientConnection, method: str, request_id: int = 1) -> Any:
    await connection.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": {}}))
    return json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))


def bearer(instance: RunningInstance) -> dict[str, str]:
    return {"Authorization": f"Bearer {instance.token}"}


# --- Host: DNS rebinding is stopped before anything else -------------------------------------------------

REBINDING_HOSTS = [
    "attacker.example",
    "attacker.example:{port}",
    "localhost.evil.com:{port}",
    "localhost.evil.com",
    "127.0.0.1.nip.io:{port}",
    "127.0.0.1:{port}.evil.com",
    "0.0.0.0:{port}",
    "127.0.0.1",
    "localhost",
    "[::1]",
    "127.0.0.1:{other}",
    "localhost:{other}",
    "127.1:{port}",
    "2130706433:{port}",
    "",
    None,  # no Host header at all
]
ALLOWED_HOSTS = ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"]

# Each route with what it would do for a legitimate caller: the Host check must come before all of it.
ROUTES = [
    ("/", [], 200),
    ("/healthz", [], 200),
    ("/ws", [("Authorization", "Bearer {token}")], 101),
    ("/login?token={token}", [], 303),
]


def route_request(
    instance: RunningInstance, path: str, headers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    filled = [(name, fill(value, instance)) for name, value in headers]
    if path == "/ws":
        filled += upgrade_headers()
    return fill(path, instance), filled


@pytest.mark.parametrize(("path", "headers", "ok_status"), ROUTES, ids=[r[0].split("?")[0] for r in ROUTES])
@pytest.mark.parametrize("host", REBINDING_HOSTS, ids=lambda h: "missing" if h is None else (h or "empty"))
async def test_a_foreign_host_is_refused_before_anything_else(
    instance: RunningInstance, path: str, headers: list[tuple[str, str]], ok_status: int, host: str | None
) -> None:
    target, request_headers = route_request(instance, path, headers)
    reply = await raw_get(instance, target, request_headers, host=None if host is None else fill(host, instance))
    assert reply.status == 403
    # Nothing of what the route would have done happened or leaked.
    assert reply.header("Set-Cookie") is None
    assert reply.header("Upgrade") is None
    assert instance.ctx.info.id.encode() not in reply.body
    assert b"<html" not in reply.body.lower()


@pytest.mark.parametrize(("path", "headers", "ok_status"), ROUTES, ids=[r[0].split("?")[0] for r in ROUTES])
@pytest.mark.parametrize("host", ALLOWED_HOSTS)
async def test_the_loopback_names_on_the_own_port_are_served(
    instance: RunningInstance, path: str, headers: list[tuple[str, str]], ok_status: int, host: str
) -> None:
    target, request_headers = route_request(instance, path, headers)
    reply = await raw_get(instance, target, request_headers, host=fill(host, instance))
    assert reply.status == ok_status


async def test_the_loopback_names_reach_the_socket_and_answer_calls(instance: RunningInstance) -> None:
    # The URL names [::1] and localhost while the TCP connection goes to 127.0.0.1, as a rebinding would.
    for name in ("localhost", "[::1]"):
        async with connect(
            f"ws://{name}:{instance.ctx.port}/ws",
            host="127.0.0.1",
            port=instance.ctx.port,
            additional_headers=bearer(instance),
            open_timeout=TIMEOUT,
        ) as connection:
            answer = await call(connection, "get_instance_info")
            assert answer["result"]["id"] == instance.ctx.info.id


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/healthz", [("Host", "attacker.example:{port}")]),  # a second, foreign Host
        ("/ws", [("Authorization", "Bearer {token}"), ("Origin", "http://127.0.0.1:{port}"), ("Origin", "null")]),
        ("/ws", [("Authorization", "Bearer {token}"), ("Authorization", "Bearer wrong")]),
        ("/login?token=wrong&a=1&b=2&c=3&d=4", []),
    ],
    ids=["two-hosts", "two-origins", "two-authorizations", "login-with-many-fields"],
)
async def test_a_request_with_doubled_or_excess_fields_is_refused_not_crashed_on(
    instance: RunningInstance, path: str, headers: list[tuple[str, str]]
) -> None:
    """Hostile oddities get a 4xx like any other refusal, never a 500 from an exception in the gate."""
    request_headers = [(name, fill(value, instance)) for name, value in headers]
    if path == "/ws":
        request_headers += upgrade_headers()
    reply = await raw_get(instance, path, request_headers)
    assert reply.status in (400, 401, 403), reply.body
    assert reply.header("Set-Cookie") is None
    assert (await raw_get(instance, "/healthz")).status == 200


# --- Origin on the upgrade --------------------------------------------------------------------------------

HOSTILE_ORIGINS = [
    "https://evil.example",
    "http://evil.example",
    "http://localhost:{port}.evil.com",
    "http://127.0.0.1:{port}.evil.com",
    "null",
    "http://127.0.0.1:{other}",
    "https://127.0.0.1:{port}",
    "http://127.0.0.1",
    "http://localhost:{port}",  # a loopback name, but not the origin this socket was asked for
    "ws://127.0.0.1:{port}",
]


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
@pytest.mark.parametrize("credential", ["cookie", "bearer"])
async def test_a_hostile_origin_is_refused_even_with_valid_credentials(
    instance: RunningInstance, origin: str, credential: str
) -> None:
    headers = {"Cookie": await sign_in(instance)} if credential == "cookie" else bearer(instance)
    status = await refused_status(instance, origin=fill(origin, instance), additional_headers=headers)
    assert status == 403


async def test_a_cookie_without_origin_is_refused(instance: RunningInstance) -> None:
    # A browser always sends Origin; a cookie-only upgrade without one is not a page of ours.
    status = await refused_status(instance, additional_headers={"Cookie": await sign_in(instance)})
    assert status == 403


async def test_a_bearer_without_origin_is_accepted(instance: RunningInstance) -> None:
    async with await open_socket(instance, additional_headers=bearer(instance)) as connection:
        answer = await call(connection, "get_instance_info")
    assert answer["result"]["id"] == instance.ctx.info.id


async def test_the_own_origin_with_the_session_cookie_is_accepted_and_calls_work(instance: RunningInstance) -> None:
    cookie = await sign_in(instance)
    async with await open_socket(
        instance, origin=own_origin(instance), additional_headers={"Cookie": cookie}
    ) as connection:
        answer = await call(connection, "get_web_ui_url")
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": {"url": instance.url, "web_url": instance.url}}


# --- Token ------------------------------------------------------------------------------------------------

BAD_AUTHORIZATIONS = {
    "missing": None,
    "wrong": "Bearer not-the-token-at-all",
    "truncated": "Bearer {token_short}",
    "extra-char": "Bearer {token}x",
    "other-case": "Bearer {token_swapped}",
    "trailing-words": "Bearer {token} extra",
    "empty-bearer": "Bearer ",
    "bare-scheme": "Bearer",
    "token-without-scheme": "{token}",
    "basic-scheme": "Basic {token}",
    "basic-userpass": "Basic {token_basic}",
}


def authorization_value(template: str, instance: RunningInstance) -> str:
    token = instance.token
    return template.format(
        token=token,
        token_short=token[:-1],
        token_swapped=token.swapcase() if token.swapcase() != token else token + "A",
        token_basic=base64.b64encode(f"user:{token}".encode()).decode(),
    )


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS.values(), ids=BAD_AUTHORIZATIONS.keys())
async def test_an_upgrade_without_the_exact_token_is_unauthorised(
    instance: RunningInstance, authorization: str | None
) -> None:
    headers = upgrade_headers()
    if authorization is not None:
        headers.append(("Authorization", authorization_value(authorization, instance)))
    reply = await raw_get(instance, "/ws", headers)
    assert reply.status == 401
    assert reply.header("Upgrade") is None


async def test_a_valid_bearer_decides_even_with_a_wrong_cookie(instance: RunningInstance) -> None:
    name = (await sign_in(instance)).split("=", 1)[0]
    headers = {**bearer(instance), "Cookie": f"{name}={'0' * 64}"}
    async with await open_socket(instance, additional_headers=headers) as connection:
        assert "result" in await call(connection, "get_instance_info")


async def test_a_wrong_bearer_is_not_rescued_by_a_valid_cookie(instance: RunningInstance) -> None:
    headers = {"Authorization": "Bearer not-the-token", "Cookie": await sign_in(instance)}
    status = await refused_status(instance, origin=own_origin(instance), additional_headers=headers)
    assert status == 401


async def test_a_forged_cookie_is_unauthorised(instance: RunningInstance) -> None:
    name = (await sign_in(instance)).split("=", 1)[0]
    for value in ("", "0" * 64, instance.token):
        status = await refused_status(
            instance, origin=own_origin(instance), additional_headers={"Cookie": f"{name}={value}"}
        )
        assert status == 401


# --- Sign-in ----------------------------------------------------------------------------------------------


async def test_login_with_the_token_sets_a_strict_http_only_cookie_and_redirects_home(
    instance: RunningInstance,
) -> None:
    reply = await raw_get(instance, f"/login?token={instance.token}")
    assert reply.status == 303
    assert reply.header("Location") == "/"
    set_cookie = reply.header("Set-Cookie")
    assert set_cookie is not None
    pair, *attributes = (part.strip() for part in set_cookie.split(";"))
    name, _, value = pair.partition("=")
    assert instance.ctx.info.id in name
    assert value
    assert instance.token not in set_cookie
    assert instance.token not in value
    assert value not in instance.token
    assert "httponly" in {a.lower() for a in attributes}
    assert "samesite=strict" in {a.lower() for a in attributes}
    assert instance.token.encode() not in reply.body


@pytest.mark.parametrize(
    "query",
    ["token=wrong", "token={token_short}", "token={token}x", "token=", "", "code={token}", "token=%20{token}"],
)
async def test_login_with_a_wrong_token_is_forbidden_and_sets_no_cookie(instance: RunningInstance, query: str) -> None:
    filled = authorization_value(query, instance)
    reply = await raw_get(instance, f"/login?{filled}" if filled else "/login")
    assert reply.status == 403
    assert reply.header("Set-Cookie") is None
    assert reply.header("Location") is None


async def test_a_one_time_code_signs_in_once(instance: RunningInstance, client: InstanceClient) -> None:
    code = (await client.call("create_login_code"))["code"]
    first = await raw_get(instance, f"/login?code={code}")
    assert first.status == 303
    cookie = first.header("Set-Cookie")
    assert cookie is not None
    assert code not in cookie
    second = await raw_get(instance, f"/login?code={code}")
    assert second.status == 403
    assert second.header("Set-Cookie") is None
    # The cookie the code gave is a working session.
    page = await raw_get(instance, "/", [("Cookie", cookie.split(";", 1)[0])])
    assert b"/assets/app.js" in page.body


async def test_an_unknown_or_malformed_code_is_forbidden(instance: RunningInstance, client: InstanceClient) -> None:
    code = (await client.call("create_login_code"))["code"]
    for wrong in ("not-a-code", code[:-1], code + "x", code.swapcase()):
        reply = await raw_get(instance, f"/login?code={wrong}")
        assert reply.status == 403
        assert reply.header("Set-Cookie") is None
    # The wrong guesses did not use up the real code.
    assert (await raw_get(instance, f"/login?code={code}")).status == 303


async def test_the_dashboard_is_served_only_with_a_session(instance: RunningInstance) -> None:
    anonymous = await raw_get(instance, "/")
    assert anonymous.status == 200
    assert b"/assets/app.js" not in anonymous.body
    assert b"sign" in anonymous.body.lower()
    signed_in = await raw_get(instance, "/", [("Cookie", await sign_in(instance))])
    assert signed_in.status == 200
    assert b"/assets/app.js" in signed_in.body
    assert (
        signed_in.header(
            "Content-Type",
        )
        == "text/html; charset=utf-8"
    )


# --- Size -------------------------------------------------------------------------------------------------


async def test_a_message_over_the_limit_closes_with_1009_and_the_server_goes_on(instance: RunningInstance) -> None:
    async with await open_socket(instance, additional_headers=bearer(instance), max_size=None) as connection:
        with contextlib.suppress(ConnectionClosed):
            await connection.send("x" * (2 * MAX_MESSAGE))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    async with await open_socket(instance, additional_headers=bearer(instance)) as fresh:
        assert "result" in await call(fresh, "get_instance_info")


async def test_a_message_of_exactly_the_limit_is_answered(instance: RunningInstance) -> None:
    request = {"jsonrpc": "2.0", "id": 7, "method": "get_instance_info", "params": {}, "pad": ""}
    request["pad"] = "x" * (MAX_MESSAGE - len(json.dumps(request)))
    message = json.dumps(request)
    assert len(message.encode()) == MAX_MESSAGE
    async with await open_socket(instance, additional_headers=bearer(instance)) as connection:
        await connection.send(message)
        answer = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
    assert answer["id"] == 7
    assert answer["result"]["id"] == instance.ctx.info.id


# --- Path traversal ---------------------------------------------------------------------------------------

TRAVERSALS = [
    "/../",
    "/..",
    "/../../../../etc/passwd",
    "/assets/../pyproject.toml",
    "/assets/../../pyproject.toml",
    "/assets/../../instance.json",
    "/assets/../token",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/assets/%2e%2e/%2e%2e/token",
    "/assets/..%2f..%2finstance.json",
    "/assets/..%5c..%5cinstance.json",
    "/assets/..\\..\\instance.json",
    "/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/assets/%252e%252e%252finstance.json",
    "/etc/passwd",
    "//etc/passwd",
    "///etc/passwd",
    "/assets//etc/passwd",
    "/assets/app.js%00.png",
    "/assets/app.js%00",
    "/assets/app.js/..",
    "/assets/app.js/../../token",
    "/assets/./../token",
    "/instance.json",
    "/runtime.json",
    "/token",
    "/logs/server.log",
    "/state.db",
    "/assets/",
    "/assets",
    "/assets/%2e%2e",
    "/static/../../etc/passwd",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_path_traversal_finds_nothing(instance: RunningInstance, path: str) -> None:
    reply = await raw_get(instance, path, [("Cookie", await sign_in(instance))])
    assert reply.status == (400 if path.startswith("//") else 404)  # "//x" is no path: refused as malformed
    body = reply.body
    assert b"root:" not in body
    assert instance.token.encode() not in body
    assert instance.ctx.info.created_at.encode() not in body
    assert b"[build-system]" not in body
    assert b'"token"' not in body
    assert b"<html" not in body.lower()


# --- Headers ----------------------------------------------------------------------------------------------


async def reply_for(case: str, instance: RunningInstance) -> Reply:
    """A response with a given status, provoked while the request carries a foreign Origin (no CORS reflection)."""
    evil = ("Origin", "https://evil.example")
    if case == "200 /":
        return await raw_get(instance, "/", [evil])
    if case == "200 /healthz":
        return await raw_get(instance, "/healthz", [evil])
    if case == "200 asset":
        return await raw_get(instance, "/assets/app.js", [evil])
    if case == "303 login":
        return await raw_get(instance, f"/login?token={instance.token}", [evil])
    if case == "403 host":
        return await raw_get(instance, "/healthz", [evil], host="attacker.example")
    if case == "403 login":
        return await raw_get(instance, "/login?token=wrong", [evil])
    if case == "403 origin":
        return await raw_get(instance, "/ws", [evil, ("Authorization", f"Bearer {instance.token}"), *upgrade_headers()])
    if case == "401 ws":
        return await raw_get(instance, "/ws", [evil, *upgrade_headers()])
    if case == "404":
        return await raw_get(instance, "/nowhere", [evil])
    if case == "101 ws":
        origin = ("Origin", own_origin(instance))
        return await raw_get(
            instance, "/ws", [origin, ("Authorization", f"Bearer {instance.token}"), *upgrade_headers()]
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "200 /",
        "200 /healthz",
        "200 asset",
        "303 login",
        "403 host",
        "403 login",
        "403 origin",
        "401 ws",
        "404",
        "101 ws",
    ],
)
async def test_every_response_carries_the_security_headers_and_no_cors(instance: RunningInstance, case: str) -> None:
    reply = await reply_for(case, instance)
    assert reply.status == int(case.split()[0])
    assert reply.header("Content-Security-Policy") == CSP
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert not [name for name, _ in reply.headers if name.startswith("access-control-")]


# --- Connection cap ---------------------------------------------------------------------------------------

MAX_CONNECTIONS = Budget.for_files(open_files_limit()).max_open  # what this process's server allows


async def test_connections_beyond_the_cap_get_503_until_one_closes(instance: RunningInstance) -> None:
    connections = [await open_socket(instance, additional_headers=bearer(instance)) for _ in range(MAX_CONNECTIONS)]
    try:
        assert await refused_status(instance, additional_headers=bearer(instance)) == 503
        # Plain HTTP is not held up by a full house.
        assert (await raw_get(instance, "/healthz")).status == 200
        await connections.pop().close()

        # The server counts the closed connection out when its handler ends, a moment after the close
        # handshake; poll for that (bounded) rather than guessing a delay.
        def counted_out(result: Any) -> bool:
            assert not isinstance(result, int) or result == 503, result
            return not isinstance(result, int)

        result = await until_async(
            lambda: try_open(instance, additional_headers=bearer(instance)),
            "the closed connection to be counted out",
            timeout=TIMEOUT,
            every=0.01,
            done=counted_out,
        )
        connections.append(result)
        assert "result" in await call(connections[-1], "get_instance_info")
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_a_burst_of_upgrades_cannot_overrun_the_cap(instance: RunningInstance) -> None:
    # All but the last 10 places taken one by one, then 30 upgrades at once race for those 10.
    opened = [await open_socket(instance, additional_headers=bearer(instance)) for _ in range(MAX_CONNECTIONS - 10)]
    try:
        attempts = (try_open(instance, additional_headers=bearer(instance)) for _ in range(30))
        results = await asyncio.gather(*attempts)
        opened += [r for r in results if not isinstance(r, int)]
        assert len(opened) == MAX_CONNECTIONS
        assert {r for r in results if isinstance(r, int)} == {503}
    finally:
        await asyncio.gather(*(c.close() for c in opened))


# --- Health -----------------------------------------------------------------------------------------------


async def test_healthz_needs_no_auth_and_names_the_instance(instance: RunningInstance) -> None:
    reply = await raw_get(instance, "/healthz")
    assert reply.status == 200
    assert reply.header("Content-Type") == "application/json"
    assert json.loads(reply.body) == {"ok": True, "instance": instance.ctx.info.id, "version": __version__}
    assert instance.token.encode() not in reply.body
