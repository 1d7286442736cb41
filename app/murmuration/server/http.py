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

COOKIE_MAX_AGE = 30 * 24 * 3600


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

    @property
    def cookie_name(self) -> str:
        return security.cookie_name(self.ctx.info.id)

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
        if url.path == "/login":
            return self._login(url.query)
        if url.path == "/":
            page = "/assets/index.html" if self._has_session(request) else "/assets/signin.html"
            return self._asset(page)
        if url.path in self.assets:
            return self._asset(url.path)
        return text(404, "Not found.")

    def _asset(self, path: str) -> Response:
        asset = self.assets.get(path)
        if asset is None:
            return text(404, "Not found.")
        return respond(200, asset.body, asset.content_type)

    def _has_session(self, request: Request) -> bool:
        value = security.cookie_value(single(request, "Cookie"), self.cookie_name)
        return value is not None and security.secret_matches(value, security.session_value(self.token))

    def _login(self, query: str) -> Response:
        try:
            fields = parse_qs(query, max_num_fields=4)
        except ValueError:
            fields = {}
        token = fields.get("token", [""])[0]
        code = fields.get("code", [""])[0]
        if (token and security.secret_matches(token, self.token)) or (code and self.ctx.login_codes.redeem(code)):
            cookie = (
                f"{self.cookie_name}={security.session_value(self.token)}; "
                f"Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE}"
            )
            return respond(303, b"", "text/plain; charset=utf-8", (("Location", "/"), ("Set-Cookie", cookie)))
        return text(
            403,
            "This sign-in link is wrong, used or expired; "
            f"run `murmuration url {self.ctx.info.name} --login` for a new one.",
        )

    def _upgrade_gate(self, request: Request, host: str) -> Response | None:
        if len(request.headers.get_all("Origin")) > 1 or len(request.headers.get_all("Authorization")) > 1:
            return text(403, "Forbidden: send one Origin and one Authorization header at most.")
        origin = single(request, "Origin")
        bearer = security.bearer_token(single(request, "Authorization"))
        # A bearer header, when present, decides alone: a wrong token is not rescued by a cookie.
        authorised = security.secret_matches(bearer, self.token) if bearer is not None else self._has_session(request)
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
