"""One list of dashboard views: the registry the browser loads is the list the server links into, and the
navigation, the routes and the titles all come from it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from murmuration.operations.context import VIEWS, view_names
from tests.dashboard.conftest import Dashboard, goto


@pytest.fixture(scope="module")
def page(shared_dashboard: tuple[Dashboard, Any]) -> Any:
    """These tests only read: one instance and one page serve them all."""
    return shared_dashboard[1]


@pytest.fixture(scope="module")
def dashboard(shared_dashboard: tuple[Dashboard, Any]) -> Dashboard:
    return shared_dashboard[0]


REGISTRY = "async () => (await import('/assets/js/views/registry.js')).VIEWS.map(v => [v.name, v.title])"


def test_the_registry_names_the_views_web_url_links_to(page: Any) -> None:
    registry = page.evaluate(REGISTRY)
    assert [name for name, _ in registry] == list(VIEWS)


def test_the_navigation_and_every_route_are_built_from_the_registry(page: Any, dashboard: Dashboard) -> None:
    registry = page.evaluate(REGISTRY)
    links = page.locator("nav.tabs a")
    expect(links).to_have_count(len(registry))
    assert [(a.get_attribute("data-view"), a.inner_text()) for a in links.all()] == [tuple(v) for v in registry]
    for name, title in registry:
        link = dashboard.rpc("get_web_ui_url", {"view": name})["web_url"]
        page.goto(link)
        expect(page.locator(f"nav.tabs a[data-view='{name}']")).to_have_attribute("aria-current", "page")
        expect(page).to_have_title(f"{title} · {dashboard.rpc('get_instance_info')['name']}")
    goto(page, dashboard, "#/nowhere")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("nav.tabs a[aria-current]")).to_have_count(0)


REGISTRY_TEXT = """
import { OverviewView } from "./overview.js";
export const VIEWS = [
  { name: "overview", title: "Overview", View: OverviewView },
  { name: "build-farm", title: "Build farm", View: BuildFarmView },
];
export function viewNamed(name) { return VIEWS.find((view) => view.name === name); }
"""


def test_a_new_line_in_the_registry_is_a_view_the_server_links_to() -> None:
    assert view_names(REGISTRY_TEXT) == ("overview", "build-farm")


@pytest.mark.parametrize(
    "broken",
    ["", "export const VIEWS = [];", REGISTRY_TEXT.replace("export const VIEWS", "const VIEWS"), "name: 'x'"],
)
def test_a_registry_the_server_cannot_read_is_a_sentence_not_an_empty_list(broken: str) -> None:
    with pytest.raises(RuntimeError, match=r"lists no view .* restore that form"):
        view_names(broken)
