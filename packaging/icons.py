"""Render every icon from the one source image, resources/icons/murmuration.svg, with Qt (no other image library).

    python packaging/icons.py [OUTDIR]          (default: resources/icons/)

Writes murmuration-SIZE.png (16 to 1024), murmuration.ico (Windows), murmuration.icns (macOS) and the tray's three
states as tray-STATE.png (32 px) with tray-STATE@2x.png (64 px): ok, starting, crashed — the same mark with a small
status badge. `QIcon("…/tray-ok.png")` picks up the @2x file by itself on HiDPI screens.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "icons" / "murmuration.svg"

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Apple's icon types that hold PNG data, and the pixel size of each (the @2x types are the Retina variants).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)
TRAY_SIZES = {"": 32, "@2x": 64}
# The file names of the tray states, and the overall state each shows.
BADGES = {"ok": "ok", "starting": "busy", "crashed": "trouble"}


def _qt() -> None:
    """A QGuiApplication to render with; offscreen when there is no display."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        _qt.app = QGuiApplication(["icons"])  # type: ignore[attr-defined]


def render(size: int, badge: str | None = None):  # -> QImage
    """The mark at `size` × `size` pixels, with the status badge of `badge` (a key of BADGES) when given.

    The tray draws the same image at run time: one drawing, in murmuration.tray.icons.
    """
    _qt()
    from murmuration.tray.icons import render as draw
    from murmuration.tray.instance import OverallState

    if not SOURCE.is_file():
        raise SystemExit(f"icons.py: {SOURCE} is missing.")
    return draw(None if badge is None else OverallState(BADGES[badge]), size)


def png_bytes(image) -> bytes:  # image: QImage
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("icons.py: Qt could not encode a PNG.")
    buffer.close()
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    """A Windows .ico holding PNG-compressed images (read by Windows Vista and later)."""
    sizes = sorted(images)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = images[size]
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset)
        offset += len(blob)
        blobs += blob
    return header + entries + blobs


def icns(images: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG images of each type in ICNS_TYPES."""
    body = b"".join(kind + struct.pack(">I", 8 + len(images[px])) + images[px] for kind, px in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_all(folder: Path) -> list[Path]:
    """Write every icon file into `folder`; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    pngs = {size: png_bytes(render(size)) for size in PNG_SIZES}
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        written.append(path)

    for size, data in pngs.items():
        put(f"murmuration-{size}.png", data)
    put("murmuration.ico", ico({size: pngs[size] for size in ICO_SIZES}))
    put("murmuration.icns", icns(pngs))
    for state in BADGES:
        for suffix, size in TRAY_SIZES.items():
            put(f"tray-{state}{suffix}.png", png_bytes(render(size, state)))
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python packaging/icons.py [OUTDIR]", file=sys.stderr)
        return 1
    folder = Path(args[0]) if args else SOURCE.parent
    for path in write_all(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
