"""The package as pip installs it: every sub-package listed, the dashboard files included."""

from __future__ import annotations

import tomllib
from pathlib import Path

from murmuration.server.static import load_assets

ROOT = Path(__file__).resolve().parent.parent


def test_every_sub_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    source = ROOT / "app"
    found = {".".join(p.parent.relative_to(source).parts) for p in source.rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


def test_the_dashboard_ships_with_the_package() -> None:
    assets = load_assets()
    assert {"/assets/index.html", "/assets/app.js", "/assets/js/session.js", "/assets/style.css"} <= set(assets)
    assert assets["/assets/app.js"].content_type.startswith("text/javascript")
