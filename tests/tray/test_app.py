"""The entry point: `murmuration` is the tray, without a display it says what to do, and other commands skip Qt."""

from __future__ import annotations

import os
import subprocess
import sys

from murmuration.tray.autostart import desktop_entry, exec_argument


def test_without_any_display_one_sentence_points_to_serve() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "murmuration"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no display" in lines[0]
    assert "murmuration serve" in lines[0]


def test_the_other_commands_never_load_qt() -> None:
    script = (
        "import sys\n"
        "from murmuration.cli import main\n"
        "import murmuration.cli.commands, murmuration.cli.serve, murmuration.server.lifecycle\n"
        "main.build_parser().parse_args(['serve', '--instance', 'x'])\n"
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'qasync'))], 'Qt loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_autostart_entry_runs_the_tray_with_this_base_folder(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MURMURATION_HOME", "/data/100% mine")
    entry = desktop_entry(["/opt/murmuration/bin/murmuration", "tray"])
    assert 'Exec=env "MURMURATION_HOME=/data/100%% mine" /opt/murmuration/bin/murmuration tray\n' in entry
    assert entry.startswith("[Desktop Entry]\nType=Application\n")


def test_exec_arguments_are_quoted_as_the_desktop_entry_spec_says() -> None:
    assert exec_argument("/usr/bin/murmuration") == "/usr/bin/murmuration"
    assert exec_argument("/home/me/My Apps/murmuration") == '"/home/me/My Apps/murmuration"'
    # A literal " is \" inside the quotes, a literal backslash four backslashes (quoting, then string escape).
    assert exec_argument('say "hi"') == '"say \\\\"hi\\\\""'
    assert exec_argument("C:\\x") == '"C:\\\\\\\\x"'
    assert exec_argument("") == '""'
