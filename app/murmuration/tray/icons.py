"""The tray's icons, drawn with QPainter from one source: the mark (resources/icons/murmuration.svg) and its badges.

The badge says the overall state by colour *and* by a glyph (a tick, a turning ring, a cross), so it does not hang
on colour alone; with nothing running there is no badge. `python -m murmuration.tray.icons OUTDIR` writes the PNGs
for packaging.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer

from murmuration.tray.instance import InstanceState, OverallState

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)

OVERALL_COLORS = {
    OverallState.IDLE: QColor("#9aa0a6"),
    OverallState.OK: QColor("#2ea44f"),
    OverallState.BUSY: QColor("#e8a100"),
    OverallState.TROUBLE: QColor("#d93025"),
}


def overall_of(state: InstanceState) -> OverallState:
    """Which of the four looks one instance's state has."""
    if state.troubled:
        return OverallState.TROUBLE
    if state.busy:
        return OverallState.BUSY
    if state is InstanceState.RUNNING:
        return OverallState.OK
    return OverallState.IDLE


def color(state: OverallState | InstanceState) -> QColor:
    """The colour that says `state`."""
    return OVERALL_COLORS[state if isinstance(state, OverallState) else overall_of(state)]


@cache
def _mark() -> QByteArray:
    source = resources.files("murmuration.resources").joinpath("icons", "murmuration.svg")
    try:
        return QByteArray(source.read_bytes())
    except OSError:
        return QByteArray()


def _draw_mark(painter: QPainter, size: float) -> None:
    renderer = QSvgRenderer(_mark())
    if renderer.isValid():
        renderer.render(painter, QRectF(0, 0, size, size))
        return
    # The mark's file is missing (a broken install): its disc alone still reads as our icon.
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor("#1f3a4d")))
    painter.drawEllipse(QRectF(size * 0.02, size * 0.02, size * 0.96, size * 0.96))


def _draw_badge(painter: QPainter, size: float, state: OverallState) -> None:
    ring = max(1.5, size * 0.06)
    diameter = size * 0.48
    corner = size - diameter - ring / 2  # the ring is drawn centred on the edge: keep all of it inside
    rect = QRectF(corner, corner, diameter, diameter)
    painter.setPen(QPen(QColor("#ffffff"), ring))
    painter.setBrush(QBrush(OVERALL_COLORS[state]))
    painter.drawEllipse(rect)
    glyph = QPen(QColor("#ffffff"), max(1.5, size * 0.065))
    glyph.setCapStyle(Qt.PenCapStyle.RoundCap)
    glyph.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(glyph)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    c, r = rect.center(), diameter / 2
    path = QPainterPath()
    if state is OverallState.OK:  # a tick
        path.moveTo(QPointF(c.x() - r * 0.45, c.y() + r * 0.02))
        path.lineTo(QPointF(c.x() - r * 0.1, c.y() + r * 0.35))
        path.lineTo(QPointF(c.x() + r * 0.45, c.y() - r * 0.3))
    elif state is OverallState.BUSY:  # an open ring: something turning
        arc = QRectF(c.x() - r * 0.45, c.y() - r * 0.45, r * 0.9, r * 0.9)
        path.arcMoveTo(arc, 90)
        path.arcTo(arc, 90, 270)
    else:  # a cross
        d = r * 0.36
        path.moveTo(QPointF(c.x() - d, c.y() - d))
        path.lineTo(QPointF(c.x() + d, c.y() + d))
        path.moveTo(QPointF(c.x() + d, c.y() - d))
        path.lineTo(QPointF(c.x() - d, c.y() + d))
    painter.drawPath(path)


def render(state: OverallState | None, size: int) -> QImage:
    """The mark at `size` pixels, with the badge of `state` (none for None or IDLE: nothing runs, nothing to say)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    _draw_mark(painter, float(size))
    if state is not None and state is not OverallState.IDLE:
        _draw_badge(painter, float(size), state)
    painter.end()
    return image


def app_icon(state: OverallState | None = None) -> QIcon:
    """The tray or window icon at every size, crisp on HiDPI screens too."""
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(QPixmap.fromImage(render(state, size)))
    return icon


def state_dot(state: InstanceState | OverallState, size: int = 16) -> QIcon:
    """A small coloured dot for menus, tabs and tables (made once per look and size)."""
    look = state if isinstance(state, OverallState) else overall_of(state)
    key = (look, size)
    if key not in _dots:
        _dots[key] = _dot(look, size)
    return _dots[key]


_dots: dict[tuple[OverallState, int], QIcon] = {}


def _dot(state: OverallState, size: int) -> QIcon:
    icon = QIcon()
    for scale in (1, 2):
        px = size * scale
        image = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(color(state)))
        painter.drawEllipse(QRectF(px * 0.2, px * 0.2, px * 0.6, px * 0.6))
        painter.end()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(scale)
        icon.addPixmap(pixmap)
    return icon


def write_pngs(folder: Path) -> list[Path]:
    """Write murmuration-SIZE.png and murmuration-STATE-SIZE.png into `folder` for packaging."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for size in SIZES:
        for state in (None, OverallState.OK, OverallState.BUSY, OverallState.TROUBLE):
            name = f"murmuration-{size}.png" if state is None else f"murmuration-{state.value}-{size}.png"
            path = folder / name
            if not render(state, size).save(str(path)):
                raise OSError(f"Could not write {path}.")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m murmuration.tray.icons OUTDIR", file=sys.stderr)
        return 1
    for path in write_pngs(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
