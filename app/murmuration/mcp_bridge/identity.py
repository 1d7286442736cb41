"""The name a bridge gives its agent's session: `--agent NAME`, else MURMURATION_AGENT, else the MCP client's name.

The instance makes the name unique among the agents connected now; the bridge remembers the name it was given
and asks for it again after a reconnect, so the agent keeps its claims across a restart of the instance.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from murmuration.core.agents import MAX_NAME, RESERVED_NAMES, agent_name
from murmuration.core.errors import Invalid

AGENT_ENV = "MURMURATION_AGENT"
FALLBACK = "agent"
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]+")


class BadAgentName(ValueError):
    """The agent name given on the command line or in the environment cannot be used; the message says why."""


def chosen_name(flag: str | None) -> str | None:
    """The name a person chose for the agent (`--agent`, else MURMURATION_AGENT), checked; None when neither."""
    for value, where in ((flag, "--agent"), (os.environ.get(AGENT_ENV), AGENT_ENV)):
        if value is not None and value != "":
            try:
                return agent_name(value, where)
            except Invalid as exc:
                raise BadAgentName(exc.message) from None
    return None


def client_name(name: str) -> str:
    """An agent name made from an MCP client's self-reported name, which the bridge cannot refuse: whatever it
    is, the result is a valid name."""
    cleaned = " ".join(UNPRINTABLE.sub(" ", name).split())[:MAX_NAME].strip()
    if not cleaned or cleaned.lower() in RESERVED_NAMES:
        return FALLBACK
    return cleaned


@dataclass
class AgentIdentity:
    """Who the bridge's session is: the name asked for, the name the instance gave, and the client program."""

    wanted: str | None = None
    chosen: bool = False  # a person chose `wanted`; the MCP client's own name does not replace it
    given: str | None = None
    client: str | None = None
    pid: int = field(default_factory=os.getpid)

    def learn_client(self, name: object, version: object) -> bool:
        """Take the MCP client's name (from its `initialize`); True when that changes the name to ask for."""
        if not isinstance(name, str):
            return False
        self.client = client_name(f"{name} {version}" if isinstance(version, str) else name)[:200]
        if self.chosen:
            return False
        wanted = client_name(name)
        changed = wanted != self.wanted
        self.wanted = wanted
        return changed

    def params(self) -> dict[str, object]:
        """The parameters of `identify` for this identity."""
        params: dict[str, object] = {"name": self.wanted, "pid": self.pid}
        if self.client:
            params["client"] = self.client
        if self.given:
            params["resume"] = self.given
        return params
