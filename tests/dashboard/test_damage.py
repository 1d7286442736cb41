"""A damaged store in the dashboard: a banner above every view with the sentence and the command that repairs it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from murmuration.core.errors import Damaged
from tests.dashboard.conftest import Dashboard, Guard, goto, open_page
from tests.storage import fill, overwrite_page


def test_a_damaged_instance_shows_the_read_only_banner_on_every_view(
    browser: Any, dashboard: Dashboard, guard: Guard
) -> None:
    dashboard.stop()
    fill(dashboard.data_dir / "state.db")
    overwrite_page(dashboard.data_dir / "state.db")
    dashboard.start()
    instance_id = dashboard.rpc("get_instance_info")["id"]
    guard.allow_console(".*")  # views whose reads meet the damaged page say so; the banner is what is checked
    context, page = open_page(browser, dashboard, guard)
    try:
        banner = page.locator("#damage-banner")
        for route in ("#/", "#/issues", "#/knowledge"):
            goto(page, dashboard, route)
            expect(banner).to_be_visible()
            expect(banner).to_have_text(Damaged.sentence(instance_id))
        expect(banner).to_have_attribute("role", "alert")
    finally:
        context.close()
    guard.check()


def test_a_sound_instance_shows_no_damage_banner(page: Any, dashboard: Dashboard) -> None:
    goto(page, dashboard, "#/")
    expect(page.locator("#damage-banner")).to_be_hidden()
