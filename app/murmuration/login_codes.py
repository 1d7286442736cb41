"""One-time sign-in codes: a link that can be shared once, briefly, instead of the token."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

CODE_LIFETIME = 120.0  # seconds: long enough to click, short enough to be worthless later
MAX_PENDING = 64


class LoginCodes:
    """Codes that sign a browser in once each and expire after CODE_LIFETIME seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        self._forget_expired()
        if len(self._expiry) >= MAX_PENDING:
            # Oldest first: a flood of requests cannot grow memory without bound.
            del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
        code = secrets.token_urlsafe(24)
        self._expiry[code] = self._clock() + CODE_LIFETIME
        return code

    def redeem(self, code: str) -> bool:
        """True once for a live code; every later or unknown code is False."""
        self._forget_expired()
        return self._expiry.pop(code, None) is not None

    def _forget_expired(self) -> None:
        now = self._clock()
        for code in [c for c, t in self._expiry.items() if t <= now]:
            del self._expiry[code]
