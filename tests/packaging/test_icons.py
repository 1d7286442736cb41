"""Every icon comes from resources/icons/murmuration.svg through packaging/icons.py (Qt's SVG renderer)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from tests.packaging.conftest import ROOT, headless_environment

ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
STATES = ("ok", "starting", "crashed")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def render(folder: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "icons.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=headless_environment(),
    )
    assert result.returncode == 0, result.stderr
    return sorted(Path(line).name for line in result.stdout.splitlines())


def test_icons_render_from_the_svg_at_every_size(tmp_path: Path) -> None:
    names = render(tmp_path)
    for size in PNG_SIZES:
        assert png_size((tmp_path / f"murmuration-{size}.png").read_bytes()) == (size, size)
    for state in STATES:
        assert png_size((tmp_path / f"tray-{state}.png").read_bytes()) == (32, 32)
        assert png_size((tmp_path / f"tray-{state}@2x.png").read_bytes()) == (64, 64)
    # The same files are in the repository (and so in the bundle): nobody forgot to run the script.
    assert set(names) <= {p.name for p in ICONS.iterdir()}


def test_the_ico_holds_png_images_up_to_256(tmp_path: Path) -> None:
    render(tmp_path)
    data = (tmp_path / "murmuration.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        width, _h, _c, _r, _planes, _bits, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index : 22 + 16 * index]
        )
        assert png_size(data[offset : offset + length])[0] == (width or 256)
        sizes.append(width or 256)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]


def test_the_icns_holds_every_retina_size(tmp_path: Path) -> None:
    render(tmp_path)
    data = (tmp_path / "murmuration.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    found, at = {}, 8
    while at < len(data):
        kind, length = data[at : at + 4].decode(), struct.unpack(">I", data[at + 4 : at + 8])[0]
        found[kind] = png_size(data[at + 8 : at + length])[0]
        at += length
    assert found["ic10"] == 1024
    assert found["ic14"] == 512
    assert found["icp4"] == 16


def test_the_tray_states_are_the_mark_with_different_badges() -> None:
    plain = (ICONS / "murmuration-32.png").read_bytes()
    states = {(ICONS / f"tray-{state}.png").read_bytes() for state in STATES}
    assert len(states) == 3
    assert plain not in states
