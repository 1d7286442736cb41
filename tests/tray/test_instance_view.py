"""An instance's tab: the real dashboard in QWebEngineView, signed in, isolated, guarded, and never blank."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtNetwork import QNetworkCookie
from PySide6.QtTest import QTest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.control import start_instance
from murmuration.tray.controller import Tray
from murmuration.tray.instance import Instance, InstanceState
from murmuration.tray.instance_view import InstanceView
from tests.tray.waits import dashboard_shows, painted, run_js, until

from .conftest import SCREENSHOTS


async def open_dashboard(tray: Tray, home: Path, name: str) -> tuple[Instance, InstanceView]:
    """Create and start `name`, open its tab and wait until the dashboard shows its name.

    The view's cookies are recorded from the start in `view.cookies_seen` (QNetworkCookies; there must be none).
    """
    folder = registry.create(name, home)
    instance_id = folder.read_info().id
    if not tray.model.first_scan_done:
        tray.start()
    await until(lambda: tray.model.get(instance_id), tray.model.instance_added)
    assert await tray.model.start(instance_id)
    instance = tray.model.get(instance_id)
    assert instance is not None
    view = tray.window.open_instance(instance_id)
    assert view is not None
    # Connected before the loop runs again, so before the sign-in could set any cookie.
    seen: list[QNetworkCookie] = []
    view.profile.cookieStore().cookieAdded.connect(lambda cookie: seen.append(QNetworkCookie(cookie)))
    view.cookies_seen = seen  # type: ignore[attr-defined]
    await until(lambda: view.shown == "dashboard", view.page_shown, what="the dashboard")
    await dashboard_names(view, name)
    return instance, view


async def dashboard_names(view: InstanceView, name: str) -> None:
    """Wait until the signed-in dashboard (not the sign-in page) shows the instance's name."""
    await dashboard_shows(view.page, name)


def cookie_names(view: InstanceView) -> set[str]:
    return {bytes(cookie.name().data()).decode() for cookie in view.cookies_seen}  # type: ignore[attr-defined]


async def test_a_tab_shows_the_signed_in_dashboard(tray: Tray, home: Path) -> None:
    instance, view = await open_dashboard(tray, home, "Signed In")

    assert view.page.url().toString() == instance.url
    assert await run_js(view.page, "document.body.classList.contains('signin')") is False
    tray.window.resize(1200, 760)
    tray.window.show()
    # The web view composits on its own schedule: wait until the page has laid itself out at the new size, then
    # for two grabs in a row that agree (a frame drawn since, not the last one kept from before the resize).
    widths: list[int] = []

    def laid_out() -> bool:
        if widths and widths[-1] == view.web.width():
            return True
        view.page.runJavaScript("window.innerWidth", 0, widths.append)  # answered before a later check
        return False

    await until(laid_out, timeout=20, what="the page laid out at the window's width")
    frames: list[object] = []

    def settled() -> bool:
        frames.append(view.web.grab().toImage())
        return len(frames) > 2 and painted(frames[-1]) and frames[-1] == frames[-2]  # type: ignore[arg-type]

    await until(settled, timeout=20, what="the dashboard painted at its new size")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert tray.window.grab().save(str(SCREENSHOTS / "main_window_dashboard.png"))


async def test_the_token_and_the_code_never_reach_the_address_or_the_history(tray: Tray, home: Path) -> None:
    seen: list[str] = []
    instance, view = await open_dashboard(tray, home, "No Secrets")
    view.page.urlChanged.connect(lambda url: seen.append(url.toString()))
    assert instance.runtime is not None
    token = instance.runtime.token

    view.sign_in()  # again, with a fresh one-time code
    await until(lambda: view.shown == "dashboard" and not view._awaiting_dashboard, view.page_shown, view.signed_in)
    await dashboard_names(view, "No Secrets")

    addresses = [view.address.text(), view.page.url().toString(), *view.history_urls()]
    assert all(token not in address and "code=" not in address for address in addresses), addresses
    assert all("code=" not in url for url in seen if url.endswith("/")), seen
    assert len(view.history_urls()) <= 1


async def test_two_tabs_share_no_session_and_no_tab_holds_a_cookie(tray: Tray, home: Path) -> None:
    _, first_view = await open_dashboard(tray, home, "Left")
    second, second_view = await open_dashboard(tray, home, "Right")

    assert first_view.profile is not second_view.profile
    assert first_view.profile.isOffTheRecord()
    assert second_view.profile.isOffTheRecord()
    # Signed in through the same one-time code exchange as a browser: a session in the origin's storage, no cookie.
    assert cookie_names(first_view) == set()
    assert cookie_names(second_view) == set()
    assert await run_js(first_view.page, "typeof localStorage.getItem('murmuration.session')") == "string"
    # And the proof by use: the first tab's profile is not signed in to the second instance.
    loads: list[bool] = []
    first_view.page.loadFinished.connect(loads.append)
    first_view.page.allow_origin(QUrl(second.url or ""))
    first_view.page.load(QUrl(second.url or ""))
    await until(lambda: loads, first_view.page.loadFinished, what="the second instance's page")
    assert first_view.page.url().port() == second.port
    assert await run_js(first_view.page, "document.body.classList.contains('signin')") is True


async def test_a_navigation_to_another_origin_is_refused(tray: Tray, home: Path, desktop_handlers: list[str]) -> None:
    instance, view = await open_dashboard(tray, home, "Fenced")
    refused: list[str] = []
    view.page.navigation_refused.connect(lambda url: refused.append(url.toString()))

    await run_js(view.page, "location.href = 'http://example.com/elsewhere'; 0")
    await until(lambda: refused, view.page.navigation_refused, what="the refusal")
    assert refused == ["http://example.com/elsewhere"]
    assert view.page.url().toString().startswith(instance.url or "-")

    # A form sent elsewhere is refused too, and is not handed to the system browser (it is no link).
    desktop_handlers.clear()
    await run_js(
        view.page,
        "(() => { const f = document.createElement('form'); f.method = 'get'; f.action = 'http://example.net/form';"
        "document.body.append(f); f.submit(); })()",
    )
    await until(lambda: len(refused) == 2, view.page.navigation_refused, what="the form's refusal")
    assert refused[1].startswith("http://example.net/form")
    assert desktop_handlers == []
    assert view.page.url().toString().startswith(instance.url or "-")


async def test_a_clicked_link_to_elsewhere_opens_in_the_system_browser(
    tray: Tray, home: Path, desktop_handlers: list[str]
) -> None:
    instance, view = await open_dashboard(tray, home, "Outbound")
    tray.window.resize(1000, 700)
    tray.window.show()
    link = "http://example.org/docs"
    box = await run_js(
        view.page,
        f"(() => {{ const a = document.createElement('a'); a.href = '{link}'; a.textContent = 'Read the docs';"
        "Object.assign(a.style, {position: 'fixed', left: '10px', top: '10px', zIndex: '99999', fontSize: '30px'});"
        "document.body.append(a); const r = a.getBoundingClientRect();"
        "return JSON.stringify([r.left + 5, r.top + 5]); })()",
    )
    box = json.loads(box)
    target = view.web.focusProxy()
    assert target is not None
    QTest.mouseClick(
        target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(int(box[0]), int(box[1]))
    )

    await until(lambda: link in desktop_handlers, view.page.navigation_refused, what="the system browser")
    assert view.page.url().toString().startswith(instance.url or "-")


async def test_a_stopped_instance_shows_the_native_page_and_comes_back_by_itself(tray: Tray, home: Path) -> None:
    instance, view = await open_dashboard(tray, home, "Comes Back")

    assert await tray.model.stop(instance.id)

    assert view.shown == "stopped"
    assert view.stopped.title.text() == "Comes Back — Stopped"
    assert view.stopped.button("start").isEnabled()
    tray.window.resize(1000, 640)
    tray.window.show()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert tray.window.grab().save(str(SCREENSHOTS / "stopped_page.png"))

    view.stopped.button("start").click()  # the page's own Start

    await until(lambda: view.shown == "dashboard", view.page_shown, what="the dashboard again")
    assert instance.state is InstanceState.RUNNING
    await dashboard_names(view, "Comes Back")


async def test_an_instance_started_elsewhere_brings_its_tab_back(tray: Tray, home: Path) -> None:
    instance, view = await open_dashboard(tray, home, "Elsewhere")
    assert await tray.model.stop(instance.id)
    assert view.shown == "stopped"

    await asyncio.to_thread(start_instance, instance.folder)  # as the CLI or an agent would

    await until(lambda: view.shown == "dashboard", view.page_shown, what="the dashboard again")
    await dashboard_names(view, "Elsewhere")


async def test_a_crashed_renderer_gets_a_reload_button_not_a_blank_tab(tray: Tray, home: Path) -> None:
    _, view = await open_dashboard(tray, home, "Renderer")
    pid = view.page.renderProcessPid()
    assert pid > 0

    os.kill(pid, signal.SIGKILL)

    await until(lambda: view.shown == "reload", view.page_shown, what="the reload page")
    assert "stopped working" in view.reload.sentence.text()
    assert view.reload.reload_button.isEnabled()

    view.reload.reload_button.click()

    await until(lambda: view.shown == "dashboard", view.page_shown, what="the dashboard again")
    await dashboard_names(view, "Renderer")


def test_addresses_shown_lose_their_query() -> None:
    from murmuration.tray.desktop import shown_address

    url = QUrl("http://127.0.0.1:8080/login?code=secret#/issues")
    assert shown_address(url) == "http://127.0.0.1:8080/login#/issues"


async def test_a_tab_signed_out_everywhere_shows_the_notice_and_reload_signs_it_in_again(
    tray: Tray, home: Path
) -> None:
    instance, view = await open_dashboard(tray, home, "Revoked")
    assert instance.runtime is not None
    async with await InstanceClient.connect(instance.url or "", instance.runtime.token) as client:
        assert (await client.call("revoke_sessions"))["revoked"] == 1
    await until(lambda: view.page.title().startswith("Sign in"), view.page.titleChanged, what="the sign-in notice")
    assert await run_js(view.page, "document.body.classList.contains('signin')") is True

    view.reload_button.click()  # a fresh one-time code, exchanged for a fresh session
    await dashboard_names(view, "Revoked")
    assert await run_js(view.page, "document.body.classList.contains('signin')") is False
