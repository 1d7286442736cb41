"""The checks every request passes: Host, Origin, the token and the session a page offers (ARCHITECTURE.md,
"Security")."""

from __future__ import annotations

import hmac

from websockets.exceptions import InvalidHeader
from websockets.headers import parse_subprotocol

from murmuration.sessions import PROTOCOL, SESSION_PREFIX

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def host_allowed(host: str | None, port: int) -> bool:
    """True only for this server's own loopback names and port; a rebinding Host fails here."""
    if not host:
        return False
    return host.lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}


def origin_allowed(origin: str, host: str) -> bool:
    """True when the page that opened the socket was served by this very origin."""
    return origin.lower() == f"http://{host.lower()}"


def secret_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token from `Authorization: Bearer <token>`, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def offered_session(protocol_headers: list[str]) -> str | None:
    """The session secret a page offered as a WebSocket subprotocol, or None.

    It counts only beside our protocol's name and alone: two sessions in one request is not a page of ours.
    """
    try:
        offered = [value for header in protocol_headers for value in parse_subprotocol(header)]
    except InvalidHeader:
        return None
    carried = [value[len(SESSION_PREFIX) :] for value in offered if value.startswith(SESSION_PREFIX)]
    if PROTOCOL not in offered or len(carried) != 1 or not carried[0]:
        return None
    return carried[0]
