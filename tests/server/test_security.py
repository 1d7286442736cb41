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
from websockets.typing import Subprotocol

from murmuration import __version__
from murmuration.client import InstanceClient, socket_url
from murmuration.server.app import MAX_MESSAGE
from murmuration.server.connections import Budget, open_files_limit
from murmuration.server.lifecycle import RunningInstance
from murmuration.sessions import CLOSE_SIGNED_OUT, IDLE_LIFETIME, PROTOCOL, SESSION_PREFIX
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
    """A test value with {port}, {other}, {token} and {code} (a fresh sign-in code) replaced by this instance's."""
    code = instance.ctx.login_codes.issue() if "{code}" in template else ""
    return template.format(port=instance.ctx.port, other=other_port(instance), token=instance.token, code=code)


async def raw_get(
    instance: RunningInstance, path: str, headers: Sequence[tuple[str, str]] = (), host: str | None = "own"
) -> Reply:
    """Send `GET path` exactly as given, with `host` as the Host header ("own" for the right one, None for none)."""
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {own_host(instance) if host == 'own' else host}")
    lines += [f"{name}: {value}" for name, value in headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "surrogateescape")
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


async def sign_in(instance: RunningInstance, host: str = "own") -> str:
    """Sign in as the dashboard's script does: trade a fresh one-time code for a session, and return the session."""
    code = instance.ctx.login_codes.issue()
    reply = await raw_get(instance, "/session", [("Murmuration-Code", code)], host=host)
    assert reply.status == 200, reply.body
    assert reply.header("Set-Cookie") is None
    session = json.loads(reply.body)["session"]
    assert isinstance(session, str)
    return session


def offering(session: str) -> list[Subprotocol]:
    """The subprotocols a signed-in dashboard offers when it opens the socket."""
    return [Subprotocol(PROTOCOL), Subprotocol(SESSION_PREFIX + session)]


def protocol_header(session: str) -> tuple[str, str]:
    return ("Sec-WebSocket-Protocol", ", ".join(offering(session)))


async def open_socket(instance: RunningInstance, open_timeout: float = TIMEOUT, **kwargs: Any) -> ClientConnection:
    return await connect(socket_url(instance.url), open_timeout=open_timeout, **kwargs)


# Filling the cap opens a thousand sockets one after another on the test's own loop, which also runs the server;
# on a machine busy with the rest of the suite one of those handshakes once took longer than TIMEOUT. What these
# tests prove is the cap, not how fast a handshake is (bench/ measures that).
FILL_TIMEOUT = 60.0


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
    ("/login?code=anything", [], 200),
    ("/session", [("Murmuration-Code", "{code}")], 200),
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
        ("/login?code=wrong&a=1&b=2&c=3&d=4", []),
        ("/session", [("Murmuration-Code", "{code}"), ("Murmuration-Code", "{code}")]),
    ],
    ids=["two-hosts", "two-origins", "two-authorizations", "login-with-many-fields", "two-codes"],
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
    assert b"session" not in reply.body.replace(b"not signed in", b"")
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
@pytest.mark.parametrize("credential", ["session", "bearer"])
async def test_a_hostile_origin_is_refused_even_with_valid_credentials(
    instance: RunningInstance, origin: str, credential: str
) -> None:
    if credential == "session":
        kwargs: dict[str, Any] = {"subprotocols": offering(await sign_in(instance))}
    else:
        kwargs = {"additional_headers": bearer(instance)}
    status = await refused_status(instance, origin=fill(origin, instance), **kwargs)
    assert status == 403


async def test_a_session_without_origin_is_refused(instance: RunningInstance) -> None:
    # A browser always sends Origin; a session offered without one is not a page of ours.
    status = await refused_status(instance, subprotocols=offering(await sign_in(instance)))
    assert status == 403


async def test_a_bearer_without_origin_is_accepted(instance: RunningInstance) -> None:
    async with await open_socket(instance, additional_headers=bearer(instance)) as connection:
        answer = await call(connection, "get_instance_info")
    assert answer["result"]["id"] == instance.ctx.info.id


async def test_the_own_origin_with_a_session_is_accepted_and_calls_work(instance: RunningInstance) -> None:
    session = await sign_in(instance)
    async with await open_socket(instance, origin=own_origin(instance), subprotocols=offering(session)) as connection:
        # The server names only the protocol: the secret is never echoed back.
        assert connection.subprotocol == PROTOCOL
        answer = await call(connection, "get_web_ui_url")
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": {"url": instance.url, "web_url": instance.url}}


async def test_the_upgrade_answer_never_carries_the_session(instance: RunningInstance) -> None:
    session = await sign_in(instance)
    reply = await raw_get(
        instance, "/ws", [("Origin", own_origin(instance)), protocol_header(session), *upgrade_headers()]
    )
    assert reply.status == 101
    assert reply.all("Sec-WebSocket-Protocol") == [PROTOCOL]
    assert not [value for _, value in reply.headers if session in value]


async def test_a_session_works_only_for_the_host_it_was_made_for(instance: RunningInstance) -> None:
    # Each origin has its own storage, so a session from 127.0.0.1:PORT has no business at localhost:PORT.
    session = await sign_in(instance)
    other = f"localhost:{instance.ctx.port}"
    headers = [("Origin", f"http://{other}"), protocol_header(session), *upgrade_headers()]
    assert (await raw_get(instance, "/ws", headers, host=other)).status == 401
    theirs = await sign_in(instance, host=other)
    assert (
        await raw_get(
            instance, "/ws", [("Origin", f"http://{other}"), protocol_header(theirs), *upgrade_headers()], host=other
        )
    ).status == 101


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


async def test_a_valid_bearer_decides_even_with_a_wrong_session(instance: RunningInstance) -> None:
    kwargs = {"additional_headers": bearer(instance), "subprotocols": offering("0" * 43)}
    async with await open_socket(instance, **kwargs) as connection:  # type: ignore[arg-type]
        assert "result" in await call(connection, "get_instance_info")


async def test_a_wrong_bearer_is_not_rescued_by_a_valid_session(instance: RunningInstance) -> None:
    headers = {"Authorization": "Bearer not-the-token"}
    session = await sign_in(instance)
    status = await refused_status(
        instance, origin=own_origin(instance), additional_headers=headers, subprotocols=offering(session)
    )
    assert status == 401


FORGED_OFFERS = {
    "empty-session": "murmuration.v1, murmuration.session.",
    "zeros": "murmuration.v1, murmuration.session." + "0" * 43,
    "the-token-as-session": "murmuration.v1, murmuration.session.{token}",
    "truncated": "murmuration.v1, murmuration.session.{session_short}",
    "extra-char": "murmuration.v1, murmuration.session.{session}x",
    "without-our-protocol": "murmuration.session.{session}",
    "bare-secret": "murmuration.v1, {session}",
    "two-sessions": "murmuration.v1, murmuration.session.{session}, murmuration.session.{session}",
    "bad-syntax": "murmuration.v1, murmuration.session.{session} ;",
    "only-our-protocol": "murmuration.v1",
}


@pytest.mark.parametrize("offer", FORGED_OFFERS.values(), ids=FORGED_OFFERS.keys())
async def test_a_forged_session_is_unauthorised(instance: RunningInstance, offer: str) -> None:
    session = await sign_in(instance)
    value = offer.format(token=instance.token, session=session, session_short=session[:-1])
    headers = [("Origin", own_origin(instance)), ("Sec-WebSocket-Protocol", value), *upgrade_headers()]
    reply = await raw_get(instance, "/ws", headers)
    assert reply.status == 401, value


async def test_the_session_in_any_other_header_opens_nothing(instance: RunningInstance) -> None:
    session = await sign_in(instance)
    for name, value in [
        ("Cookie", f"murmuration_{instance.ctx.info.id}={session}"),
        ("Cookie", f"session={session}"),
        ("Authorization", f"Bearer {session}"),
        ("Murmuration-Session", session),
    ]:
        reply = await raw_get(instance, "/ws", [("Origin", own_origin(instance)), (name, value), *upgrade_headers()])
        assert reply.status == 401, name


# Cookies any port on 127.0.0.1 could have set, under the old cookie's name and others, some of them huge.
FOREIGN_COOKIES = [
    "murmuration_{id}=",
    "murmuration_{id}=" + "0" * 64,
    "murmuration_{id}=x; murmuration_{id}=y",
    "session=junk; murmuration.session=junk; token=junk",
    "; ;; =; ==",
    "big=" + "x" * 4000,
    "; ".join(f"bomb{n}=" + "x" * 4080 for n in range(169)),  # what Chromium sends when a page plants all it may
]


@pytest.mark.parametrize("cookie", FOREIGN_COOKIES, ids=lambda c: f"{len(c)}-bytes")
async def test_foreign_cookies_of_any_name_neither_open_nor_lock_out(instance: RunningInstance, cookie: str) -> None:
    session = await sign_in(instance)
    planted = ("Cookie", cookie.format(id=instance.ctx.info.id))
    alone = await raw_get(instance, "/ws", [("Origin", own_origin(instance)), planted, *upgrade_headers()])
    assert alone.status == 401
    signed_in = [("Origin", own_origin(instance)), planted, protocol_header(session), *upgrade_headers()]
    assert (await raw_get(instance, "/ws", signed_in)).status == 101
    for path in ("/", "/assets/app.js", "/assets/js/session.js", "/healthz"):
        assert (await raw_get(instance, path, [planted])).status == 200, path
    code = instance.ctx.login_codes.issue()
    assert (await raw_get(instance, "/session", [planted, ("Murmuration-Code", code)])).status == 200


# --- Sign-in ----------------------------------------------------------------------------------------------


async def test_no_response_ever_sets_a_cookie(instance: RunningInstance) -> None:
    code = instance.ctx.login_codes.issue()
    for path, headers in [
        (f"/login?code={code}", []),
        ("/session", [("Murmuration-Code", code)]),
        ("/session", [("Murmuration-Code", instance.ctx.login_codes.issue())]),
        (f"/login?token={instance.token}", []),
        ("/", []),
        ("/healthz", []),
    ]:
        reply = await raw_get(instance, path, headers)
        assert reply.header("Set-Cookie") is None, path


async def test_login_with_the_token_is_gone(instance: RunningInstance) -> None:
    reply = await raw_get(instance, f"/login?token={instance.token}")
    assert reply.status == 410
    assert b"murmuration url Test Instance --login" in reply.body
    assert instance.token.encode() not in reply.body
    assert reply.header("Location") is None


async def test_the_login_page_is_the_shell_and_redeems_nothing_by_itself(instance: RunningInstance) -> None:
    code = instance.ctx.login_codes.issue()
    page = await raw_get(instance, f"/login?code={code}")
    assert page.status == 200
    assert b"/assets/app.js" in page.body
    assert code.encode() not in page.body
    # Loading the page did not use the code up: its script does, once.
    assert (await raw_get(instance, "/session", [("Murmuration-Code", code)])).status == 200


async def test_a_one_time_code_gives_one_session_and_a_replayed_code_gives_nothing(instance: RunningInstance) -> None:
    code = instance.ctx.login_codes.issue()
    first = await raw_get(instance, "/session", [("Murmuration-Code", code)])
    assert first.status == 200
    assert first.header("Cache-Control") == "no-store"
    session = json.loads(first.body)["session"]
    assert code not in session
    assert instance.token not in session
    assert len(session) >= 43  # 256 random bits
    for _ in range(3):
        again = await raw_get(instance, "/session", [("Murmuration-Code", code)])
        assert again.status == 403
        assert b"session" not in again.body
    assert b"murmuration url" in again.body
    assert instance.ctx.sessions.summary()["count"] == 1


async def test_an_unknown_or_malformed_code_is_forbidden(instance: RunningInstance, client: InstanceClient) -> None:
    code = (await client.call("create_login_code"))["code"]
    for wrong in ("", "not-a-code", code[:-1], code + "x", code.swapcase(), instance.token):
        reply = await raw_get(instance, "/session", [("Murmuration-Code", wrong)])
        assert reply.status == 403
    # The wrong guesses did not use up the real code.
    assert (await raw_get(instance, "/session", [("Murmuration-Code", code)])).status == 200


@pytest.mark.parametrize("name", ["Murmuration-Session", "Murmuration-Code"])
async def test_hostile_bytes_in_a_sign_in_header_are_refused_not_crashed_on(
    instance: RunningInstance, name: str
) -> None:
    value = "\udcff\udcfe" + "\u00e9" * 3 + "x" * 4000  # raw bytes 0xff 0xfe, then Latin-1, then bulk
    reply = await raw_get(instance, "/session", [(name, value)])
    assert reply.status in (401, 403), reply.body
    reply = await raw_get(instance, "/ws", [("Origin", own_origin(instance)), (name, value), *upgrade_headers()])
    assert reply.status == 401


async def test_the_session_check_tells_a_valid_session_from_any_other(instance: RunningInstance) -> None:
    session = await sign_in(instance)
    assert (await raw_get(instance, "/session", [("Murmuration-Session", session)])).status == 200
    for wrong in ("", session[:-1], instance.token):
        assert (await raw_get(instance, "/session", [("Murmuration-Session", wrong)])).status == 401
    assert (await raw_get(instance, "/session")).status == 401


async def test_the_shell_is_served_without_a_session_and_holds_no_data(instance: RunningInstance) -> None:
    anonymous = await raw_get(instance, "/")
    assert anonymous.status == 200
    assert anonymous.header("Content-Type") == "text/html; charset=utf-8"
    assert b"/assets/app.js" in anonymous.body
    for secret in (instance.token, instance.ctx.info.id, instance.ctx.info.name):
        assert secret.encode() not in anonymous.body


# --- Revocation -------------------------------------------------------------------------------------------


async def test_revoking_closes_open_sessions_within_a_second_and_refuses_them_after(
    instance: RunningInstance, client: InstanceClient
) -> None:
    sessions = [await sign_in(instance), await sign_in(instance)]
    sockets = [
        await open_socket(instance, origin=own_origin(instance), subprotocols=offering(s))
        for s in [*sessions, sessions[0]]
    ]
    agent = await open_socket(instance, additional_headers=bearer(instance))
    try:
        assert (await client.call("list_sessions"))["count"] == 2
        assert (await client.call("revoke_sessions"))["revoked"] == 2
        for socket in sockets:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 1.0)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CLOSE_SIGNED_OUT
        for session in sessions:
            status = await refused_status(instance, origin=own_origin(instance), subprotocols=offering(session))
            assert status == 401
            assert (await raw_get(instance, "/session", [("Murmuration-Session", session)])).status == 401
        # Bearer connections are no sessions: the agent carries on.
        assert "result" in await call(agent, "get_instance_info")
        assert (await client.call("list_sessions"))["count"] == 0
    finally:
        await asyncio.gather(agent.close(), *(s.close() for s in sockets))


async def answered_until_closed(socket: ClientConnection) -> tuple[list[Any], int | None]:
    """The ids of the answers a socket gets until it is closed, and the close code."""
    ids = []
    try:
        while True:
            ids.append(json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT)).get("id"))
    except ConnectionClosed as closed:
        return ids, closed.rcvd.code if closed.rcvd else None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_session_that_expires_while_open_cannot_send_one_more_message(instance: RunningInstance) -> None:
    clock = Clock()
    instance.ctx.sessions.clock = clock  # expiry closes nothing by itself: only the check on each message stops it
    session = await sign_in(instance)
    async with await open_socket(instance, origin=own_origin(instance), subprotocols=offering(session)) as socket:
        assert "result" in await call(socket, "get_instance_info")
        clock.now += IDLE_LIFETIME - 1  # a use just before the limit keeps it alive ...
        assert "result" in await call(socket, "get_instance_info", 2)
        clock.now += IDLE_LIFETIME  # ... and twelve idle hours end it
        await socket.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "get_instance_info", "params": {}}))
        ids, code = await answered_until_closed(socket)
    assert 3 not in ids, "an expired session was answered"
    assert code == CLOSE_SIGNED_OUT
    assert await refused_status(instance, origin=own_origin(instance), subprotocols=offering(session)) == 401


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
    reply = await raw_get(instance, path, [protocol_header(await sign_in(instance))])
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
    if case == "200 login":
        return await raw_get(instance, "/login?code=x", [evil])
    if case == "200 session":
        return await raw_get(instance, "/session", [evil, ("Murmuration-Code", instance.ctx.login_codes.issue())])
    if case == "410 login":
        return await raw_get(instance, f"/login?token={instance.token}", [evil])
    if case == "403 host":
        return await raw_get(instance, "/healthz", [evil], host="attacker.example")
    if case == "403 session":
        return await raw_get(instance, "/session", [evil, ("Murmuration-Code", "wrong")])
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
        "200 login",
        "200 session",
        "410 login",
        "403 host",
        "403 session",
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
    connections = [
        await open_socket(instance, additional_headers=bearer(instance), open_timeout=FILL_TIMEOUT)
        for _ in range(MAX_CONNECTIONS)
    ]
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
    opened = [
        await open_socket(instance, additional_headers=bearer(instance), open_timeout=FILL_TIMEOUT)
        for _ in range(MAX_CONNECTIONS - 10)
    ]
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
