"""The dashboard's files as shipped: CSP-clean HTML, no HTML built from strings, every module preloaded."""

from __future__ import annotations

import re
from pathlib import Path

from murmuration.server.static import load_assets

ROOT = Path(__file__).resolve().parents[2] / "resources" / "dashboard"
SCRIPTS = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.js"))


def test_the_pages_have_no_inline_scripts_or_styles() -> None:
    for page in sorted(p.name for p in ROOT.glob("*.html")):
        html = (ROOT / page).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page
        assert "<style" not in html, page
        assert not re.search(r"\sstyle=", html), page
        assert not re.search(r"\son[a-z]+=", html), page
        assert "http://" not in html, f"{page} refers to another host"
        assert "https://" not in html, f"{page} refers to another host"


def test_no_module_parses_strings_as_html_or_code() -> None:
    forbidden = re.compile(
        r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*\"style\"|"
        r"createContextualFragment|DOMParser|srcdoc"
    )
    for script in SCRIPTS:
        for number, line in enumerate((ROOT / script).read_text().splitlines(), 1):
            assert not forbidden.search(line), f"{script}:{number}: {line.strip()}"


def test_nothing_is_loaded_from_another_host() -> None:
    for path in [*SCRIPTS, "style.css"]:
        text = (ROOT / path).read_text()
        assert not re.search(r"(import|from)\s+[\"']https?:", text), path
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", text), path
        assert "@import" not in text, path


def test_every_module_is_preloaded_and_every_preload_exists() -> None:
    html = load_assets()["/assets/index.html"].body.decode()
    preloaded = re.findall(r'<link rel="modulepreload" href="/assets/([^"]+)">', html)
    assert "modulepreload:" not in html  # the marker is replaced
    assert sorted(preloaded) == [s for s in SCRIPTS if s != "app.js"]
    assets = load_assets()
    for script in SCRIPTS:
        assert f"/assets/{script}" in assets
        assert assets[f"/assets/{script}"].content_type.startswith("text/javascript")
