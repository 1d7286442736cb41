"""A name holding a bidi override (tray/instance.py `shown`): the menu, the table and messages keep it isolated.

Names made by Murmuration cannot hold control characters, but instance.json is a file, and anything may
write one. The check is on Qt's own layout of the text the tray shows: where each piece lands.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QFont, QTextLayout

from murmuration import registry
from murmuration.tray.controller import Tray
from murmuration.tray.instance import shown
from murmuration.tray.stopped_page import explanation
from tests.tray.test_tray_menu import tray_icon
from tests.tray.waits import until

NAME = "evil\u202eplain"


def x_of(text: str, piece: str) -> float:
    """Where Qt draws the cursor after the first character of `piece` in `text`, laid out as one line.

    (The cursor before it sits on a run boundary, which is the same place whichever way the run goes.)
    """
    layout = QTextLayout(text, QFont())
    layout.beginLayout()
    line = layout.createLine()
    layout.endLayout()
    x, _ = line.cursorToX(text.index(piece) + 1)
    return float(x)


def assert_reads_in_order(text: str, *pieces: str) -> None:
    positions = [x_of(text, piece) for piece in pieces]
    assert positions == sorted(positions), f"{text!r}: {list(zip(pieces, positions, strict=True))}"


def plant_name(home: Path, name: str) -> str:
    """An instance whose instance.json names it `name`, written as another program could."""
    folder = registry.create("Planted", home)
    info = json.loads(folder.instance_file.read_text(encoding="utf-8"))
    info["name"] = name
    folder.instance_file.write_text(json.dumps(info), encoding="utf-8")
    return str(info["id"])


async def test_an_override_in_a_name_reorders_nothing_in_the_menu_or_the_table(tray: Tray, home: Path) -> None:
    instance_id = plant_name(home, NAME)
    icon = tray_icon(tray)
    tray.start()
    await until(lambda: instance_id in icon.instance_menus, tray.model.instance_added, what="the planted instance")
    title = icon.instance_menus[instance_id].title()
    assert "plain" in title
    # Overridden, "plain — Stopped" would be drawn reversed: "Stopped" left of "plain".
    assert_reads_in_order(title, "evil", "plain", "Stopped")
    instance = tray.model.get(instance_id)
    assert instance is not None
    assert_reads_in_order(f"{instance.label} stopped unexpectedly.", "evil", "plain", "stopped")
    assert_reads_in_order(explanation(instance), "evil", "plain", "is stopped")  # the tab's stopped page


def test_plain_names_are_shown_as_they_are_and_control_characters_never() -> None:
    assert shown("Menu Item") == "Menu Item"
    assert shown("line\nbreak\x07") == "linebreak"
    assert shown(NAME) == f"\u2068{NAME}\u2069"
    assert shown("שלום") == "\u2068שלום\u2069"  # right-to-left letters are isolated too
