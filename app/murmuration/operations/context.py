"""What an operation handler is given: the instance it acts on, as seen by the one caller of this call."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from urllib.parse import quote

from murmuration.core.agents import NOBODY, Agents, Caller
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.processes import ProcessManager
from murmuration.core.reservations import Reservations
from murmuration.datafolder import InstanceInfo
from murmuration.login_codes import LoginCodes
from murmuration.sessions import Sessions

# The dashboard's views in the browser's own list: web_url links point into them, so a new view is its file
# and its line in the registry, and nothing here.
REGISTRY = ("dashboard", "js", "views", "registry.js")
_LIST = re.compile(r"export const VIEWS = \[(.*?)\];", re.DOTALL)
_NAME = re.compile(r'\bname: "([a-z][a-z0-9-]*)"')


def view_names(registry: str) -> tuple[str, ...]:
    """The names of the views listed in the text of the dashboard's registry module, in its order."""
    found = _LIST.search(registry)
    names = tuple(_NAME.findall(found.group(1))) if found else ()
    if not names:
        raise RuntimeError(
            "The dashboard's registry (resources/dashboard/js/views/registry.js) lists no view in the form "
            '`export const VIEWS = [{ name: "…", … }, …];`; restore that form, or reinstall Murmuration.'
        )
    return names


VIEWS = view_names(resources.files("murmuration.resources").joinpath(*REGISTRY).read_text(encoding="utf-8"))


@dataclass
class InstanceContext:
    """The running instance as its operations see it."""

    info: InstanceInfo
    port: int
    version: str
    started_at: str
    pid: int
    knowledge: KnowledgeBase
    processes: ProcessManager
    agents: Agents
    reservations: Reservations
    events: EventBus = field(default_factory=EventBus)
    login_codes: LoginCodes = field(default_factory=LoginCodes)
    sessions: Sessions = field(default_factory=Sessions)
    request_shutdown: Callable[[], None] = lambda: None
    # Who makes the call being handled: each call gets its own copy of the context (see `acting_as`).
    caller: Caller = NOBODY

    def acting_as(self, caller: Caller) -> InstanceContext:
        """This context for one call by `caller`: the same instance, the caller beside it."""
        return replace(self, caller=caller)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def web_url(self, view: str | None = None, item: str | None = None) -> str:
        """A deep link into this instance's dashboard: `#/issues/ISSUE_3`, `#/queue`, …"""
        if view is None or view == "overview":
            return self.url
        link = f"{self.url}#/{view}"
        if item:
            link += "/" + quote(item, safe="_-.~")
        return link
