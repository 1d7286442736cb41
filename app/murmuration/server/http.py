"""The HTTP side of the instance server: health, sign-in, the dashboard's files, and the upgrade gate.

websockets serves GET only, which suits us: everything that changes state goes over the WebSocket.
"""

from __future__ import annotations

import email.utils
import http
import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from murmuration.operations import InstanceContext
from murmuration.server import security
from murmuration.server.static import Asset
from murmuration.sessions import IDLE_LIFETIME


def respond(status: int, body: bytes, content_type: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """A complete HTTP response that closes the connection."""
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            *extra,
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def single(request: Request, name: str) -> str | None:
    """The one value of header `name`, or None when it is absent or sent more than once (never trust a pick)."""
    values = request.headers.get_all(name)
    return values[0] if len(values) == 1 else None


def text(status: int, message: str) -> Response:
    return respond(status, (message + "\n").encode(), "text/plain; charset=utf-8")


@dataclass
class HttpGate:
    """Decides, for each incoming request, the HTTP answer — or None to let a WebSocket upgrade through."""

    ctx: InstanceContext
    token: str
    assets: dict[str, Asset]

    def route(self, request: Request) -> Response | None:
        host = single(request, "Host")
        # Before anything else: a page on another name that resolves to 127.0.0.1 (DNS rebinding) stops here.
        if not security.host_allowed(host, self.ctx.port):
            return text(403, "Forbidden: this server answers only to 127.0.0.1, localhost or [::1] on its own port.")
        assert host is not None
        url = urlsplit(request.path)
        if url.path == "/ws":
            return self._upgrade_gate(request, host)
        if url.path == "/healthz":
            body = {"ok": True, "instance": self.ctx.info.id, "version": self.ctx.version}
            return respond(200, json.dumps(body).encode(), "application/json")
        if url.path == "/session":
            return self._session(request, host)
        if url.path == "/login":
            return self._login(url.query)
        if url.path == "/":
            # The shell holds no data: it asks for data over the socket with its session, or says how to sign in.
            return self._asset("/assets/index.html")
        if url.path in self.assets:
            return self._asset(url.path)
        return text(404, "Not found.")

    def _asset(self, path: str) -> Response:
        asset = self.assets.get(path)
        if asset is None:
            return text(404, "Not found.")
        return respond(200, asset.body, asset.content_type)

    def _login(self, query: str) -> Response:
        """The dashboard shell: its script trades the code in the address for a session and removes it from there."""
        try:
            fields = parse_qs(query, max_num_fields=4)
        except ValueError:
            return text(400, "This is not a sign-in link; " + self._new_link_hint())
        if "token" in fields:
            return text(410, "Sign-in links that carry the token no longer work; " + self._new_link_hint())
        return self._asset("/assets/index.html")

    def _session(self, request: Request, host: str) -> Response:
        """Trade a one-time code (header Murmuration-Code) for a session, or tell whether a session is still valid.

        Both travel in custom headers, so a page of another origin cannot even send the request (it would need a
        CORS preflight, which this server never grants).
        """
        code = single(request, "Murmuration-Code")
        if code is not None:
            if not self.ctx.login_codes.redeem(code):
                return text(403, "This sign-in link is wrong, used or expired; " + self._new_link_hint())
            body = {"session": self.ctx.sessions.create(host), "idle_lifetime": IDLE_LIFETIME}
            return respond(200, json.dumps(body).encode(), "application/json")
        secret = single(request, "Murmuration-Session")
        if secret is not None and self.ctx.sessions.find(secret, host) is not None:
            return respond(200, b'{"signed_in": true}', "application/json")
        return text(401, "This browser is not signed in to this instance; " + self._new_link_hint())

    def _new_link_hint(self) -> str:
        return f"run `murmuration url {self.ctx.info.name} --login` for a new one."

    def session_of(self, request: Request) -> str | None:
        """The id of the live session an accepted upgrade signed in with; None for a bearer connection."""
        if request.headers.get("Authorization") is not None:
            return None
        host = single(request, "Host") or ""
        secret = security.offered_session(request.headers.get_all("Sec-WebSocket-Protocol"))
        return self.ctx.sessions.find(secret, host) if secret is not None else None

    def _upgrade_gate(self, request: Request, host: str) -> Response | None:
        if len(request.headers.get_all("Origin")) > 1 or len(request.headers.get_all("Authorization")) > 1:
            return text(403, "Forbidden: send one Origin and one Authorization header at most.")
        origin = single(request, "Origin")
        bearer = security.bearer_token(single(request, "Authorization"))
        # A bearer header, when present, decides alone: a wrong token is not rescued by a session.
        # No cookie is read, nor even reaches here (cookie_drop.py): any port on this machine can plant one.
        if bearer is not None:
            authorised = security.secret_matches(bearer, self.token)
        else:
            authorised = self.session_of(request) is not None
        if not authorised:
            return text(401, "Unauthorized: sign in first, or send 'Authorization: Bearer <token>'.")
        # A browser always sends Origin; only a non-browser client with the bearer token may omit it.
        if origin is None and bearer is None:
            return text(403, "Forbidden: a browser connection must carry its Origin.")
        if origin is not None and not security.origin_allowed(origin, host):
            return text(403, "Forbidden: this socket accepts pages from its own origin only.")
        return None


def add_security_headers(response: Response) -> Response:
    for name, value in security.SECURITY_HEADERS:
        response.headers[name] = value
    return response
