"""How soon a dashboard tab is painted in the tray, beside the same dashboard in a plain QWebEngineView.

Each figure is the median (min–max) of `--runs` fresh processes (the real tray, offscreen, its own MURMURATION_HOME,
without the PYTHONUNBUFFERED/PYTHONDONTWRITEBYTECODE a user's machine lacks):
1. New instance → dashboard painted, the first web view: from the New instance intent (the controller's
   create_instance with a project folder, as the dialog's "Create and start" calls it: create, open the tab, start)
   in a tray that has started and warmed its web engine, to the first paint of the dashboard in its tab;
2. the same for a second instance in the same tray (the second web view);
3. Enter on a row in a fresh tray with one running instance → the first paint of its tab: a key press sent to the
   list once the tray is idle and warmed, and once before its warm-up (as Enter within 3 s of the start is: the
   tray has not loaded QtWebEngine yet).
For 1 and 2 the part from the server running (the model shows it running; the baseline's start returned) to the
paint is shown too.
Baselines, each in a fresh process with no tray, its modules loaded and its engine warmed as the tray's is (the
tray's blank warm-up page loaded) before the clock starts, or for the cold row not warmed: for 1 and 2, create and
start the same instances, sign in and load each in a plain QWebEngineView; for 3, sign in and load the running one.

"Painted": a script injected into the page's isolated world watches the DOM until the overview shows data from the
signed-in socket (the project folder in "This instance" and the process counts), then waits two animation frames —
the first runs before the frame that draws them, the second once that frame has been produced — and stamps the wall
clock (a view not shown never stamps: its frames are not drawn). Python polls that stamp (runJavaScript, every
20 ms); the time is the stamp minus the intent's, so the poll adds nothing.

    .venv/bin/python bench/tray_tabs.py [--runs 5] [--range-start 12400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tray import until  # bench/tray.py: the same wait on the tray's loop

PAINT_PROBE = """
(() => {
  const drawn = () => document.querySelector('.overview [data-testid="overview-cwd"]')
    && document.querySelector('.overview [data-stat="running"]');
  const observer = new MutationObserver(() => {
    if (!drawn()) return;
    observer.disconnect();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.murmurationPainted = performance.timeOrigin + performance.now();
    }));
  });
  observer.observe(document, { childList: true, subtree: true });
})();
"""
NAMES = ("Bench one", "Bench two")
CHILDREN = ("tray-new", "plain-new", "tray-enter", "plain-enter", "tray-enter-cold", "plain-enter-cold")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure")
    parser.add_argument("--range-start", type=int, default=12400, help="first of 20 ports for the servers")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    for name in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"):  # the servers started here get a user's too
        os.environ.pop(name, None)
    os.environ.update(
        QT_QPA_PLATFORM="offscreen",
        QTWEBENGINE_DISABLE_SANDBOX="1",
        MURMURATION_PORT_RANGE=f"{args.range_start}-{args.range_start + 19}",
    )
    figures: dict[str, list[float]] = {}
    for run in range(args.runs):
        for kind in ("tray-new", "plain-new"):
            with fresh_home() as home:
                (home / "project").mkdir()
                result = run_child(kind)
            for key, value in result.items():
                figures.setdefault(f"{kind} {key}", []).append(value)
        with fresh_home() as home:
            from murmuration import registry
            from murmuration.control import start_instance

            start_instance(registry.create(NAMES[0], home))
            for kind in CHILDREN[2:]:
                figures.setdefault(kind, []).append(run_child(kind)["enter"])
        print(f"  run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in figures.items()), flush=True)
    load = os.getloadavg()
    print(f"\nseconds to the dashboard's first paint, median (min–max) of {args.runs} fresh processes each")
    print(f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores):")
    print(f"  {'':58} {'tray':>17} {'plain view':>17}")
    rows = (
        ("1. New instance → painted, first web view", "tray-new first", "plain-new first"),
        ("   of which server running → painted", "tray-new first page", "plain-new first page"),
        ("2. New instance → painted, second web view", "tray-new second", "plain-new second"),
        ("   of which server running → painted", "tray-new second page", "plain-new second page"),
        ("3. Enter on a row in a fresh tray → painted (warmed)", "tray-enter", "plain-enter"),
        ("   the same, Enter before the warm-up (cold)", "tray-enter-cold", "plain-enter-cold"),
    )
    for label, tray, plain in rows:
        print(f"  {label:58} {spread(figures[tray]):>17} {spread(figures[plain]):>17}")
    return 0


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


class fresh_home:
    """A temporary MURMURATION_HOME for one measurement; every instance still running in it is stopped after."""

    def __enter__(self) -> Path:
        self.home = Path(tempfile.mkdtemp(prefix="murmuration-bench-tabs-"))
        os.environ["MURMURATION_HOME"] = str(self.home)
        return self.home

    def __exit__(self, *_: object) -> None:
        from murmuration import registry
        from murmuration.control import stop_instance

        for folder in registry.managed_folders():
            stop_instance(folder)


def run_child(kind: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind], env=dict(os.environ), capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} child failed: {done.stderr.strip()}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- in the child ----------------------------------------------------------------------------------------------


def child(kind: str) -> int:
    import qasync  # type: ignore[import-untyped]
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)  # as the app does
    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    measures = {
        "tray-new": tray_new,
        "plain-new": plain_new,
        "tray-enter": lambda: tray_enter(warm=True),
        "plain-enter": lambda: plain_enter(warm=True),
        "tray-enter-cold": lambda: tray_enter(warm=False),
        "plain-enter-cold": lambda: plain_enter(warm=False),
    }
    if kind.startswith("plain"):
        # The baseline's clock starts with the view: its modules are loaded before (as the tray's are but for
        # QtWebEngine, which a cold tray loads with its first tab).
        import PySide6.QtWebEngineWidgets  # noqa: F401

        import murmuration.control  # noqa: F401
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        result = runner.run(measures[kind]())
    print(json.dumps(result), flush=True)
    return 0


async def tray_new() -> dict[str, float]:
    from murmuration.home import base_folder
    from murmuration.tray.controller import Tray

    tray = Tray(tray_available=False)  # no tray area offscreen: the window shows at once, as it would there
    probe_new_tabs(tray)
    try:
        tray.start()
        await until(lambda: tray.warm is not None)
        assert tray.warm is not None
        await engine_ready(tray.warm.page)
        running: dict[str, float] = {}  # when the model first shows each instance running (its tab signs in then)
        tray.model.instance_changed.connect(
            lambda i: running.setdefault(i, time.time()) if (shown := tray.model.get(i)) and shown.running else None
        )
        result = {}
        for key, name in zip(("first", "second"), NAMES, strict=True):
            began = time.time()
            instance_id = await tray.create_instance(name, None, base_folder() / "project")
            assert instance_id is not None
            stamp = await painted(tray.window.views[instance_id].page)
            result |= {key: stamp - began, f"{key} page": stamp - running[instance_id]}
        return result
    finally:
        await tray.close()


async def tray_enter(warm: bool) -> dict[str, float]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from murmuration.tray.controller import Tray

    tray = Tray(tray_available=False, warm_up=warm)
    probe_new_tabs(tray)
    try:
        tray.start()
        model, table = tray.model, tray.window.table
        await until(lambda: model.first_scan_done and all(i.running for i in model.instances()))
        if warm:
            await until(lambda: tray.warm is not None)
            assert tray.warm is not None
            await engine_ready(tray.warm.page)
        (instance,) = model.instances()
        table.select_id(instance.id)
        table.setFocus()
        began = time.time()
        QTest.keyClick(table, Qt.Key.Key_Return)
        return {"enter": await painted(tray.window.views[instance.id].page) - began}
    finally:
        await tray.close()


def probe_new_tabs(tray: Any) -> None:
    """Put the paint probe into each tab's page as it opens (its dashboard loads only after the sign-in)."""
    probed: set[str] = set()

    def probe(*_: object) -> None:
        for instance_id, view in tray.window.views.items():
            if instance_id not in probed:
                probed.add(instance_id)
                add_probe(view.page)

    tray.window.tabs.currentChanged.connect(probe)


async def plain_new() -> dict[str, float]:
    from murmuration import registry
    from murmuration.control import start_instance
    from murmuration.home import base_folder

    warm = await warmed_engine()
    result, views = {}, []
    for key, name in zip(("first", "second"), NAMES, strict=True):
        began = time.time()
        folder = await asyncio.to_thread(registry.create, name, base_folder() / "project")
        await asyncio.to_thread(start_instance, folder)
        running = time.time()
        views.append(await plain_view(folder))
        warm.release()  # as the tray does once its first tab holds the engine
        stamp = await painted(views[-1].page())
        result |= {key: stamp - began, f"{key} page": stamp - running}
    return result


async def plain_enter(warm: bool) -> dict[str, float]:
    from murmuration import registry

    engine = await warmed_engine() if warm else None
    (folder,) = registry.managed_folders()
    began = time.time()
    view = await plain_view(folder)
    if engine is not None:
        engine.release()
    return {"enter": await painted(view.page()) - began}


async def warmed_engine() -> Any:
    """The tray's own warm-up (a blank page in its own profile), its engine started."""
    from murmuration.tray.web_engine import WarmEngine

    warm = WarmEngine()
    await engine_ready(warm.page)
    return warm


async def engine_ready(page: Any) -> None:
    """Until the page's renderer runs its (blank) document: the web engine has started."""
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        try:
            if await asyncio.wait_for(ask(page, "document.readyState"), 2.0) == "complete":
                return
        except TimeoutError:
            continue
        await asyncio.sleep(0.02)
    raise TimeoutError("the web engine never started")


async def plain_view(folder: Any) -> Any:
    """A bare QWebEngineView (its own off-the-record profile, as a tab has) loading the folder's dashboard."""
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
    from PySide6.QtWebEngineWidgets import QWebEngineView

    from murmuration.control import login_url

    link = await login_url(await asyncio.to_thread(folder.read_runtime))
    view = QWebEngineView()
    profile = QWebEngineProfile()
    page = QWebEnginePage(profile, view)
    profile.setParent(view)  # after the page: a parent deletes its children in order, the page before its profile
    view.setPage(page)
    add_probe(page)
    view.resize(1100, 680)
    view.show()
    page.load(QUrl(link))
    return view


def add_probe(page: Any) -> None:
    from PySide6.QtWebEngineCore import QWebEngineScript

    script = QWebEngineScript()
    script.setName("murmuration-paint-probe")
    script.setSourceCode(PAINT_PROBE)
    script.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
    script.setWorldId(QWebEngineScript.ScriptWorldId.ApplicationWorld)  # the page never sees it
    page.scripts().insert(script)


async def painted(page: Any, timeout: float = 120.0) -> float:
    """The wall-clock time (seconds) the probe stamped when the overview had been drawn."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # (a page between two documents may drop the question)
            stamp = await asyncio.wait_for(ask(page, "window.murmurationPainted || 0"), 2.0)
        except TimeoutError:
            continue
        if isinstance(stamp, (int, float)) and stamp > 0:
            return float(stamp) / 1000.0
        await asyncio.sleep(0.02)
    raise TimeoutError("the dashboard was never painted")


def ask(page: Any, script: str) -> asyncio.Future[object]:
    """The value of `script` run in the probe's world of the page."""
    from PySide6.QtWebEngineCore import QWebEngineScript

    answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def give(value: object) -> None:
        if not answer.done():
            answer.set_result(value)

    page.runJavaScript(script, QWebEngineScript.ScriptWorldId.ApplicationWorld, give)
    return answer


if __name__ == "__main__":
    sys.exit(main())
