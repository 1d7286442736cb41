"""The one way a command reports failure: a sentence and an exit code."""

from __future__ import annotations

from murmuration.selfcommand import PROGRAM_PREFIX


class CommandError(Exception):
    """A failure reported to the user as one sentence with an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def say(message: str) -> str:
    """`message` as the command line prints it: after the program name, once (never "murmuration: murmuration:")."""
    while message.startswith(PROGRAM_PREFIX):
        message = message.removeprefix(PROGRAM_PREFIX)
    return PROGRAM_PREFIX + message
