"""The regular expressions callers match log lines with (grep, waiting for a line), each given a time budget.

A pattern like `(a|aa)+$` takes exponential time on a line of a few dozen characters. Python's `re` cannot be
stopped and holds the GIL while it runs, so one such pattern would freeze the whole instance — every agent, the
dashboard, the queue — for minutes or for good. The `regex` module (compatible with `re` syntax) takes a timeout
and releases the GIL while it matches; a pattern that spends its budget is refused, naming the field it came in.
"""

from __future__ import annotations

import time

from murmuration.core.errors import Invalid

# Seconds of matching one read of a log may spend, over all its lines: a grep of the 4 MB a read may scan takes
# about half a second on a busy machine. regex looks at its clock now and then, so a pattern that backtracks for
# ever stops after two or three times this; it runs in a thread meanwhile, and regex lets go of the GIL.
BUDGET = 2.0


class LinePattern:
    """A compiled regular expression and the matching time its call has left."""

    def __init__(self, text: str, field: str, budget: float = BUDGET) -> None:
        # Imported at the first pattern, not with the server: regex's import is 15 ms, some 4 % of a start.
        import regex

        try:
            self._compiled = regex.compile(text, flags=regex.VERSION0)
        except (regex.error, OverflowError, ValueError) as exc:
            raise Invalid(
                f"Invalid parameter {field!r}: {text[:80]!r} is not a regular expression ({exc}).", field
            ) from None
        self.text = text
        self.field = field
        self.budget = self.left = budget

    def renew(self) -> None:
        """Give the pattern its whole budget again, for the next read."""
        self.left = self.budget

    def search(self, line: str) -> bool:
        """Whether `line` holds a match; Invalid once this pattern has used up its call's time."""
        started = time.monotonic()
        try:
            return self._compiled.search(line, timeout=max(self.left, 0.001), concurrent=True) is not None
        except TimeoutError:
            self.left = 0.0
            raise Invalid(
                f"Invalid parameter {self.field!r}: {self.text[:80]!r} takes too long to match (over "
                f"{self.budget:g} s), as nested repeats like (a+)+ do; write a simpler regular expression.",
                self.field,
            ) from None
        finally:
            self.left -= time.monotonic() - started
