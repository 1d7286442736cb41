"""The checks every request passes: Host, Origin, token and session cookie (ARCHITECTURE.md, "Security")."""

from __future__ import annotations

import hashlib
import hmac

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


def cookie_name(instance_id: str) -> str:
    """The session cookie's name; it carries the instance id because cookies do not separate ports."""
    return "murmuration_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in instance_id)


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so it survives restarts but reveals nothing of it."""
    return hmac.new(token.encode(), b"murmuration session cookie", hashlib.sha256).hexdigest()


def secret_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token from `Authorization: Bearer <token>`, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def cookie_value(cookie_header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a `Cookie` header, or None."""
    if not cookie_header:
        return None
    for pair in cookie_header.split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            return value
    return None
