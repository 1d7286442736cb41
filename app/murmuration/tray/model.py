"""The tray's model of every instance on this machine: a plain QObject with signals (Syncthing Tray's way).

Widgets render it and send intents (start, stop, create, …); it never touches a widget. All blocking work
(the registry, probes, starting and stopping servers) runs in worker threads through `asyncio.to_thread`,
so the GUI thread never waits on a disk or a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from murmuration import registry, status
from murmuration.client import InstanceUnavailable
from murmuration.contract import EXIT_LOCKED
from murmuration.control import (
    NotResponding,
    StartFailed,
    listening_urls,
    login_url,
    remove_instance,
    start_instance,
    stop_instance,
)
from murmuration.datafolder import DataFolder, DataFolderError, Runtime
from murmuration.tray import exits
from murmuration.tray.instance import Instance, InstanceState, OverallState
from murmuration.tray.liveness import ServerWatch
from murmuration.tray.recovery import back_sentence, recovered
from murmuration.tray.scan import Observation, observe, reap, sample_memory, scan, watched_paths
from murmuration.tray.watcher import FolderWatcher

log = logging.getLogger(__name__)

SAMPLE_MS = 2000  # how often memory is read while the window shows it


@dataclass
class _Slot:
    """The model's private bookkeeping for one instance."""

    instance: Instance
    # One intent at a time per instance (a Stop pressed during a start waits for the start).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Bumped by every intent, so a scan begun before it never overwrites what the intent decided.
    generation: int = 0


class InstanceModel(QObject):
    """Every instance on this machine: registry listing + status probe + authenticated ping, kept fresh."""

    instance_added = Signal(str)
    instance_removed = Signal(str)
    instance_changed = Signal(str)
    # After any change: the icon and the tooltip follow this one.
    changed = Signal()
    # An instance the tray watched died without being asked to (id, sentence); the supervisor listens.
    crashed = Signal(str, str)
    # A person asked for start, stop, restart or delete of this instance; the supervisor forgets its crashes.
    user_intent = Signal(str)
    # Something a person should be told (title, sentence).
    notice = Signal(str, str)
    # An instance runs again after a crash, or on another port than before (id, title, the sentence that says so).
    back = Signal(str, str, str)

    def __init__(self, parent: QObject | None = None, cwd: Path | None = None) -> None:
        super().__init__(parent)
        self._slots: dict[str, _Slot] = {}
        # Instances the tray started or adopted while they ran: a death without a stop request is a crash.
        self._watched: set[str] = set()
        self._cwd = cwd or Path.home()
        self._refreshing = asyncio.Lock()
        self._pings: set[asyncio.Task[None]] = set()
        self.first_scan_done = False
        # Watching (see `watch`): what announces changes, and the one scan under way.
        self._files: FolderWatcher | None = None
        self._servers: ServerWatch | None = None
        self._look: asyncio.Future[None] | None = None
        # The data folders to look at next (None: all of them), gathered until the scan under way is done.
        self._wanted: set[Path] | None = None
        self._closed = False
        # How the tray's own children ended, by pid, collected when their end was announced.
        self._exit_statuses: dict[int, int] = {}
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._retry_unanswered)
        # Memory is read only while the window shows it (see `set_sampling`).
        self.sampling = False
        self._sample_timer = QTimer(self)
        self._sample_timer.setInterval(SAMPLE_MS)
        self._sample_timer.timeout.connect(self._sample_now)
        self._sampling: asyncio.Future[None] | None = None
        self.instance_changed.connect(self._follow)

    # --- reading -----------------------------------------------------------------------------------------------

    def instances(self) -> list[Instance]:
        """Every known instance, in the registry's order (new ones at the end)."""
        return [slot.instance for slot in self._slots.values()]

    def get(self, instance_id: str) -> Instance | None:
        slot = self._slots.get(instance_id)
        return slot.instance if slot else None

    def find_by_name(self, name_or_id: str) -> Instance | None:
        """The instance with this id, else with this name."""
        if name_or_id in self._slots:
            return self._slots[name_or_id].instance
        return next((i for i in self.instances() if i.name == name_or_id), None)

    def is_watched(self, instance_id: str) -> bool:
        return instance_id in self._watched

    def overall(self) -> OverallState:
        states = {i.state for i in self.instances()}
        if any(s.troubled for s in states):
            return OverallState.TROUBLE
        if any(s.busy for s in states):
            return OverallState.BUSY
        if InstanceState.RUNNING in states:
            return OverallState.OK
        return OverallState.IDLE

    def summary(self) -> str:
        """A short text for the tray icon's tooltip: counts, then one line per instance."""
        instances = self.instances()
        if not instances:
            return "Murmuration — no instances yet"
        counts: dict[str, int] = {}
        for instance in instances:
            counts[instance.state.value] = counts.get(instance.state.value, 0) + 1
        head = "Murmuration — " + ", ".join(f"{n} {state}" for state, n in counts.items())
        lines = [
            f"{i.label}: {i.state.label.rstrip('…').lower()}" + (f" on port {i.port}" if i.running else "")
            for i in instances[:8]
        ]
        if len(instances) > 8:
            lines.append(f"and {len(instances) - 8} more")
        return "\n".join([head, *lines])

    def next_name(self) -> str:
        """The first free "Instance N", for the new-instance dialog."""
        taken = {i.name for i in self.instances()}
        n = 1
        while f"Instance {n}" in taken:
            n += 1
        return f"Instance {n}"

    # --- watching ----------------------------------------------------------------------------------------------

    def watch(self, interval: float = 2.0, autostart: bool = True) -> None:
        """Scan now, then whenever something changes; start the instances marked autostart after the first scan.

        Changes arrive as notifications, not by looking: the files through `FolderWatcher`, a server's end
        through `ServerWatch`. `interval` is how often to look again only while something needs it: an
        instance that does not answer, or servers on a platform that cannot announce their end.
        """
        if self._files is not None:
            return
        self._closed = False
        self._files = FolderWatcher(self)
        self._files.changed.connect(self.look_soon)
        self._servers = ServerWatch(interval, self)
        self._servers.ended.connect(self._server_ended)
        self._retry.setInterval(max(1, int(interval * 1000)))
        self._look = asyncio.ensure_future(self._first_look(autostart))

    async def _first_look(self, autostart: bool) -> None:
        self._wanted = None
        await self._looking()
        if autostart and not self._closed:
            try:
                await self._autostart()
            except Exception:
                log.exception("starting the instances marked autostart failed")

    def look_soon(self, paths: Iterable[str] | None = None) -> None:
        """Scan once more, soon: at once, or right after the scan under way (never two at a time).

        With `paths` (what changed on disk), only the data folders they belong to are looked at; a change
        anywhere else (a registry folder) means a whole scan.
        """
        if self._closed or self._files is None:
            return
        if paths is None:
            self._wanted = None
        elif self._wanted is not None:
            for path in paths:
                folder = self._folder_of(Path(path))
                if folder is None:
                    self._wanted = None
                    break
                self._wanted.add(folder)
        if self._look is None or self._look.done():
            self._look = asyncio.ensure_future(self._looking())

    def _folder_of(self, path: Path) -> Path | None:
        """The known data folder `path` is or lies in (its instance.json), else None."""
        for slot in self._slots.values():
            folder = slot.instance.folder
            if path in (folder.path, folder.instance_file):
                return folder.path
        return None

    async def _looking(self) -> None:
        while (self._wanted is None or self._wanted) and not self._closed:
            wanted, self._wanted = self._wanted, set()
            try:
                await self.refresh(wanted)
            except RuntimeError as exc:
                if "no running event loop" in str(exc):
                    return  # the app's loop is gone (the app is ending): nothing left to watch for
                log.exception("scanning the instances failed")
            except Exception:
                log.exception("scanning the instances failed")

    def _server_ended(self, instance_id: str, pid: int) -> None:
        # Collected now, while its pid is known (a server that removed its runtime.json first leaves no other
        # trace of it): no zombie stays under the tray, and the scan below learns how it ended.
        status = reap(pid)
        if status is not None:
            self._exit_statuses[pid] = status
        log.debug("the server of %s (pid %d) ended with status %s", instance_id, pid, status)
        instance = self.get(instance_id)
        self.look_soon([str(instance.folder.path)] if instance is not None else None)

    def set_sampling(self, sampling: bool) -> None:
        """Read memory (and repaint uptime) every few seconds only while someone looks: the window is shown."""
        if sampling == self.sampling:
            return
        self.sampling = sampling
        if sampling:
            self._sample_timer.start()
            self._sample_now()
        else:
            self._sample_timer.stop()

    def _sample_now(self) -> None:
        if self._sampling is None or self._sampling.done():
            self._sampling = asyncio.ensure_future(self._sample())

    async def _sample(self) -> None:
        """Fresh memory for the running instances; uptime is computed as it is shown, so it needs only a repaint."""
        running = [i for i in self.instances() if i.running and i.pid is not None]
        if not running:
            return
        sizes = await asyncio.to_thread(sample_memory, [i.pid for i in running if i.pid is not None])
        for instance in running:
            if instance.pid in sizes:
                instance.memory = sizes[instance.pid]
            self.instance_changed.emit(instance.id)

    def _follow(self, instance_id: str) -> None:
        """Follow the server the instance shows, whatever showed it (a scan, an intent, an adoption)."""
        if self._servers is None:
            return
        instance = self.get(instance_id)
        if instance is not None and instance.runtime is not None:
            self._servers.follow(instance_id, instance.runtime)
        unanswered = instance is not None and instance.state is InstanceState.NOT_RESPONDING
        if unanswered and not self._closed and not self._retry.isActive():
            self._retry.start()

    def _retry_unanswered(self) -> None:
        unanswered = [str(i.folder.path) for i in self.instances() if i.state is InstanceState.NOT_RESPONDING]
        if unanswered:
            self.look_soon(unanswered)  # asks them again (a scan pings what is not known to answer)
            self._retry.start()

    @property
    def looking(self) -> bool:
        """Whether a scan is under way (or wanted right after the one under way)."""
        return self._look is not None and not self._look.done()

    def scheduled(self) -> list[str]:
        """What the model does or has set to run by itself now; empty while it only waits for notifications."""
        busy = []
        if self.looking:
            busy.append("a scan")
        if self._retry.isActive():
            busy.append("a retry timer for an instance that does not answer")
        if self._sample_timer.isActive():
            busy.append("a memory sampling timer")
        if self._servers is not None and self._servers.polling:
            busy.append("a timer looking at the servers")
        return busy

    async def close(self) -> None:
        """Stop watching (instances keep running: they are separate processes)."""
        self._closed = True
        self._retry.stop()
        self._sample_timer.stop()
        if self._servers is not None:
            self._servers.close()
        self._files = None
        tasks = [t for t in (self._look, self._sampling, *self._pings) if t is not None]
        self._look = self._sampling = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def refresh(self, folders: Collection[Path] | None = None) -> None:
        """Look at every instance once (or only at the data folders `folders`) and bring the model up to date."""
        async with self._refreshing:
            generations = {key: slot.generation for key, slot in self._slots.items()}
            sampling = self.sampling
            if folders is None:
                observations = await asyncio.to_thread(scan, sampling)
            else:
                observations = await asyncio.to_thread(
                    lambda: [observe(DataFolder(p), sampling) for p in sorted(folders) if p.is_dir()]
                )
            seen: set[str] = set()
            to_ping: list[tuple[_Slot, Runtime]] = []
            for obs in observations:
                key = obs.key
                if key in seen:
                    continue
                seen.add(key)
                slot = self._slots.get(key)
                if slot is None:
                    slot = self._add(obs)
                elif slot.lock.locked() or generations.get(key) != slot.generation:
                    continue  # an intent is deciding this one's state
                ping = self._apply(slot, obs)
                if ping is not None:
                    to_ping.append((slot, ping))
            gone = [] if folders is not None else [k for k in self._slots if k not in seen]
            for key in [k for k in gone if not self._slots[k].lock.locked()]:
                del self._slots[key]
                self._watched.discard(key)
                self.instance_removed.emit(key)
            self.first_scan_done = self.first_scan_done or folders is None
            if self._files is not None:
                self._files.follow(watched_paths([slot.instance.folder for slot in self._slots.values()]))
            self.changed.emit()
        if to_ping:
            await asyncio.gather(*(self._adopt(slot, runtime) for slot, runtime in to_ping))

    def _add(self, obs: Observation) -> _Slot:
        info = obs.info
        name = info.name if info is not None else obs.folder.path.name
        instance = Instance(
            obs.key, name, obs.folder, autostart=bool(info and info.autostart), cwd=info.cwd if info else ""
        )
        if info is None:
            instance.message = f"{obs.folder.instance_file} cannot be read."
        slot = _Slot(instance)
        self._slots[obs.key] = slot
        self.instance_added.emit(obs.key)
        return slot

    def _apply(self, slot: _Slot, obs: Observation) -> Runtime | None:
        """Fold one observation into the instance; returns a runtime to ping when it needs (re)adopting."""
        instance = slot.instance
        before = _looks(instance)
        if obs.info is not None:
            instance.name, instance.autostart, instance.cwd = obs.info.name, obs.info.autostart, obs.info.cwd
        if obs.alive and obs.runtime is not None:
            if obs.memory is not None:
                instance.memory = obs.memory
            if instance.state is InstanceState.RUNNING and instance.runtime == obs.runtime:
                if _looks(instance) != before:  # a scan that found nothing new has nothing to redraw
                    self.instance_changed.emit(instance.id)
                return None
            return obs.runtime
        instance.memory = None
        exit_status = obs.exit_status
        if instance.runtime is not None and exit_status is None:
            # Its server is gone; when it was the tray's child, collect it (no zombie) and learn how it ended.
            ended = instance.runtime.pid
            exit_status = self._exit_statuses.pop(ended) if ended in self._exit_statuses else reap(ended)
        died = instance.state in (InstanceState.RUNNING, InstanceState.NOT_RESPONDING)
        if died and instance.id in self._watched:
            runtime, instance.runtime = instance.runtime, None
            # A server that stops cleanly removes its runtime.json; one killed (or failing) leaves it,
            # or tells its failure by its exit status when it was our child.
            if obs.stale or exit_status not in (None, 0):
                log.warning("%s died without being asked to (exit status %s)", instance.name, exit_status)
                # Written here, in the GUI thread (a crash is rare and the record small), so the log holds
                # the cause by the time anything says "see its log".
                pid, secrets = (runtime.pid, (runtime.token,)) if runtime else (None, ())
                instance.last_exit = exits.record(instance.folder, pid, exit_status, secrets)
                instance.state = InstanceState.CRASHED
                instance.message = f"{instance.label} stopped unexpectedly: it {instance.last_exit}."
                self.instance_changed.emit(instance.id)
                self.crashed.emit(instance.id, instance.message)
                return None
            self._watched.discard(instance.id)
        if not instance.state.troubled:
            # A server found dead, not one the tray saw die: crashed as `ls` says, but nothing restarts it.
            instance.state = InstanceState.CRASHED if obs.stale else InstanceState.STOPPED
            if obs.stale:
                instance.message = f"{instance.label} crashed before the tray saw it run; start it again."
        instance.runtime = None
        if _looks(instance) != before:
            self.instance_changed.emit(instance.id)
        return None

    async def _adopt(self, slot: _Slot, runtime: Runtime) -> None:
        """A running server we did not know: believe it only when it answers an authenticated ping."""
        generation = slot.generation
        answered = await status.ping(runtime) is not None
        instance = slot.instance
        if slot.generation != generation or slot.lock.locked() or instance.id not in self._slots:
            return
        instance.runtime = runtime
        if answered:
            log.info("adopted %s (pid %d, port %d)", instance.name, runtime.pid, runtime.port)
            instance.state = InstanceState.RUNNING
            instance.message = ""
            instance.restart_at = None
            self._watched.add(instance.id)
        else:
            instance.state = InstanceState.NOT_RESPONDING
            instance.message = f"{instance.label} runs (pid {runtime.pid}) but does not answer."
        self.instance_changed.emit(instance.id)
        self.changed.emit()

    async def _autostart(self) -> None:
        wanted = [i.id for i in self.instances() if i.autostart and i.state is InstanceState.STOPPED]
        await asyncio.gather(*(self.start(instance_id, user=False) for instance_id in wanted))

    # --- intents -----------------------------------------------------------------------------------------------

    async def start(self, instance_id: str, *, user: bool = True) -> bool:
        """Start the instance's server (or adopt it if it already runs); False when it could not start.

        A failed start asked by a person is FAILED and told; one asked by the supervisor is another crash.
        """
        slot = self._slots.get(instance_id)
        if slot is None:
            return False
        if user:
            self.user_intent.emit(instance_id)
        async with slot.lock:
            instance = slot.instance
            slot.generation += 1
            after_crash = instance.state in (InstanceState.CRASHED, InstanceState.CRASH_LOOP)
            self._set(instance, InstanceState.STARTING, "")
            instance.restart_at = None
            try:
                earlier_port = (await asyncio.to_thread(instance.folder.read_info)).last_port
                await asyncio.to_thread(start_instance, instance.folder)
                runtime = await asyncio.to_thread(instance.folder.read_runtime)
            except NotResponding as exc:
                self._set(instance, InstanceState.NOT_RESPONDING, str(exc))  # as before: it runs, frozen
                return True
            except StartFailed as exc:
                if exc.exit_code == EXIT_LOCKED:
                    return True  # someone else started it a moment ago: the next scan adopts it
                if exc.exit_code is not None:
                    instance.last_exit = await asyncio.to_thread(exits.record, instance.folder, None, exc.exit_code)
                return self._start_failed(instance, str(exc), user)
            except (OSError, DataFolderError, ValueError) as exc:
                return self._start_failed(instance, f"{instance.label} could not start: {exc}.", user)
            if runtime is None:
                return self._start_failed(instance, f"{instance.label} stopped right after it started.", user)
            instance.runtime = runtime
            answered = await status.ping(runtime) is not None
            log.info("started %s (pid %d, port %d)", instance.name, runtime.pid, runtime.port)
            self._watched.add(instance.id)
            if answered:
                cut_short = await recovered(runtime) if after_crash else {}
                sentence = back_sentence(instance.label, after_crash, runtime.port, earlier_port, cut_short)
                self._set(instance, InstanceState.RUNNING, sentence or "")
                if sentence:
                    title = "is running again" if after_crash else f"moved to port {runtime.port}"
                    self.back.emit(instance.id, f"{instance.label} {title}", sentence)
            else:
                self._set(instance, InstanceState.NOT_RESPONDING, f"{instance.label} started but does not answer.")
            return True

    def _start_failed(self, instance: Instance, message: str, user: bool) -> bool:
        instance.runtime = None
        log.warning("%s", message)
        if user or instance.id not in self._watched:
            self._set(instance, InstanceState.FAILED, message)
            self.notice.emit(f"{instance.label} did not start", message)
        else:
            self._set(instance, InstanceState.CRASHED, message)
            self.crashed.emit(instance.id, message)
        return False

    async def stop(self, instance_id: str, *, user: bool = True) -> bool:
        """Stop the instance's server: asked politely, then by force (the blocking part runs in a thread)."""
        slot = self._slots.get(instance_id)
        if slot is None:
            return False
        if user:
            self.user_intent.emit(instance_id)
        self._watched.discard(instance_id)  # from now on its death is no crash
        async with slot.lock:
            instance = slot.instance
            slot.generation += 1
            instance.restart_at = None
            self._set(instance, InstanceState.STOPPING, "")
            message = ""
            pid = instance.pid
            if pid is None:  # one not adopted yet (a scan is under way) is stopped too
                with contextlib.suppress(DataFolderError, OSError):
                    runtime = await asyncio.to_thread(instance.folder.read_runtime)
                    pid = runtime.pid if runtime else None
            try:
                await asyncio.to_thread(stop_instance, instance.folder)
            except OSError as exc:
                message = f"{instance.label} could not be stopped cleanly: {exc}."
            if pid is not None:
                reap(pid)  # a server the tray started is its child: collected here, it leaves no zombie
            instance.runtime = None
            instance.memory = None
            log.info("stopped %s", instance.name)
            self._set(instance, InstanceState.STOPPED, message)
            return True

    async def restart(self, instance_id: str) -> bool:
        await self.stop(instance_id)
        return await self.start(instance_id)

    async def stop_all(self) -> None:
        """Stop every instance that runs (used when quitting with "stop all")."""
        live = [i.id for i in self.instances() if i.runtime is not None or i.state.busy]
        await asyncio.gather(*(self.stop(instance_id) for instance_id in live))

    async def create(self, name: str, cwd: Path | None = None) -> str:
        """Create an instance called `name` whose processes run in `cwd` (not started) and return its id.

        Raises ValueError (a bad name or folder) or registry.InstanceExists with a sentence to show.
        """
        folder = await asyncio.to_thread(lambda: registry.create(name, registry.check_cwd(cwd or self._cwd)))
        info = await asyncio.to_thread(folder.read_info)
        if info.id not in self._slots:
            slot = _Slot(Instance(info.id, info.name, folder, autostart=info.autostart, cwd=info.cwd))
            self._slots[info.id] = slot
            self.instance_added.emit(info.id)
            self.changed.emit()
        return info.id

    async def delete(self, instance_id: str) -> None:
        """Stop the instance if it runs, then delete its data folder; raises FolderLocked if a server holds it."""
        slot = self._slots.get(instance_id)
        if slot is None:
            return
        self.user_intent.emit(instance_id)
        await self.stop(instance_id, user=False)
        async with slot.lock:
            slot.generation += 1
            await asyncio.to_thread(remove_instance, slot.instance.folder)
            self._slots.pop(instance_id, None)
            self._watched.discard(instance_id)
        self.instance_removed.emit(instance_id)
        self.changed.emit()

    async def set_autostart(self, instance_id: str, autostart: bool) -> None:
        """Mark the instance to be started whenever the tray starts (kept in its instance.json)."""
        instance = self.get(instance_id)
        if instance is None:
            return
        folder = instance.folder

        def write() -> None:
            folder.write_info(replace(folder.read_info(), autostart=autostart))

        await asyncio.to_thread(write)
        instance.autostart = autostart
        self.instance_changed.emit(instance_id)

    async def set_cwd(self, instance_id: str, cwd: Path) -> str:
        """Make `cwd` the project folder of the instance (from its next start); returns it as written.

        Raises ValueError (not a folder) or OSError / DataFolderError with a sentence to show.
        """
        instance = self.get(instance_id)
        if instance is None:
            raise ValueError(f"No instance has the id {instance_id!r}.")
        written = await asyncio.to_thread(registry.set_cwd, instance.folder, cwd)
        instance.cwd = str(written)
        self.instance_changed.emit(instance_id)
        return instance.cwd

    async def login_url(self, instance_id: str) -> str:
        """A one-time sign-in link for the instance's dashboard (the token never appears in it)."""
        instance = self.get(instance_id)
        runtime = instance.runtime if instance else None
        if instance is None or runtime is None:
            raise InstanceUnavailable(f"{instance.label if instance else instance_id} is not running.")
        return await login_url(runtime)

    async def process_urls(self, instance_id: str) -> list[tuple[str, str]]:
        """(title, url) for every address the instance's running processes listen on; [] while it is down."""
        instance = self.get(instance_id)
        if instance is None or instance.runtime is None or not instance.running:
            return []
        return await listening_urls(instance.runtime)

    # --- told by the supervisor --------------------------------------------------------------------------------

    def mark_restart(self, instance_id: str, delay: float) -> None:
        instance = self.get(instance_id)
        if instance is not None and instance.state is InstanceState.CRASHED:
            instance.restart_at = time.monotonic() + delay
            self.instance_changed.emit(instance_id)

    def mark_crash_loop(self, instance_id: str, message: str) -> None:
        instance = self.get(instance_id)
        if instance is not None:
            self._watched.discard(instance_id)
            instance.restart_at = None
            self._set(instance, InstanceState.CRASH_LOOP, message)

    def _set(self, instance: Instance, state: InstanceState, message: str) -> None:
        instance.state = state
        instance.message = message
        self.instance_changed.emit(instance.id)
        self.changed.emit()


def _looks(instance: Instance) -> tuple[object, ...]:
    """What the widgets show of an instance: while it is unchanged, a scan has nothing to tell them."""
    return (
        instance.state,
        instance.runtime,
        instance.name,
        instance.autostart,
        instance.cwd,
        instance.memory,
        instance.message,
    )
