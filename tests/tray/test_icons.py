"""The icons: one mark, a badge per overall state, PNGs for packaging."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QImage

from murmuration.tray.icons import OVERALL_COLORS, render, write_pngs
from murmuration.tray.instance import OverallState


def badge_colour(image: QImage) -> QColor:
    """The colour of the badge (bottom right) below its glyph, inside its white ring."""
    size = image.width()
    return image.pixelColor(int(size * 0.73), int(size * 0.91))


def test_each_state_has_its_own_badge_and_idle_has_none() -> None:
    for state in (OverallState.OK, OverallState.BUSY, OverallState.TROUBLE):
        assert badge_colour(render(state, 64)).name() == OVERALL_COLORS[state].name(), state
    plain = render(None, 64)
    assert render(OverallState.IDLE, 64) == plain
    assert badge_colour(plain).name() not in {c.name() for c in OVERALL_COLORS.values()}
    # The mark is drawn (not an empty image): its centre is opaque.
    assert plain.pixelColor(32, 32).alpha() == 255


def test_the_pngs_for_packaging_are_written(tmp_path: Path) -> None:
    written = write_pngs(tmp_path)
    assert tmp_path / "murmuration-256.png" in written
    assert tmp_path / "murmuration-trouble-22.png" in written
    assert QImage(str(tmp_path / "murmuration-ok-32.png")).width() == 32
