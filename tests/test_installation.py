"""A path that will vanish is never written into a login item or an MCP config; Windows configs name the console exe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from murmuration import registry
from murmuration.installation import vanishing_reason
from murmuration.selfcommand import CONSOLE_EXE, WINDOWED_EXE, twin

MAC_HOME = PurePosixPath("/Users/ada")
# A copy of the app in ~/Downloads is this Python through a symbolic link there, which keeps its name as
# sys.executable on Linux (macOS's framework Python and Windows' venv launcher do not); the autostart test writes
# an XDG entry.
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a symlinked Python, an XDG entry")
ROOT = Path(__file__).resolve().parent.parent


def mac(path: str) -> str | None:
    return vanishing_reason(PurePosixPath(path), platform="darwin", home=MAC_HOME)


def test_macos_translocation_disk_images_and_downloads_will_vanish() -> None:
    translocated = mac("/private/var/folders/x1/T/AppTranslocation/4F2C/d/Murmuration.app/Contents/MacOS/murmuration")
    assert translocated is not None
    assert "move Murmuration.app to Applications" in translocated
    image = mac("/Volumes/Murmuration/Murmuration.app/Contents/MacOS/murmuration")
    assert image is not None
    assert "disk image (Murmuration)" in image
    downloaded = mac("/Users/ada/Downloads/Murmuration.app/Contents/MacOS/murmuration")
    assert downloaded is not None
    assert "Downloads" in downloaded
    assert mac("/Users/ada/downloads/Murmuration.app/Contents/MacOS/murmuration") is not None  # case-insensitive
    for reason in (translocated, image, downloaded):
        assert reason.endswith("try again.")
        assert reason.count(". ") == 0  # one sentence


def test_installed_places_last() -> None:
    assert mac("/Applications/Murmuration.app/Contents/MacOS/murmuration") is None
    assert mac("/Users/ada/Applications/Murmuration.app/Contents/MacOS/murmuration") is None
    assert mac("/Users/ada/DownloadsArchive/Murmuration.app/Contents/MacOS/murmuration") is None
    assert mac("/Users/ada/Downloads") is None  # the folder itself is not inside itself
    linux = vanishing_reason(PurePosixPath("/opt/murmuration/murmuration"), platform="linux", home=MAC_HOME)
    assert linux is None
    # /Volumes is only a disk image on macOS.
    assert vanishing_reason(PurePosixPath("/Volumes/x/murmuration"), platform="linux", home=MAC_HOME) is None


def test_windows_downloads_and_a_zip_opened_in_explorer_will_vanish() -> None:
    home = PureWindowsPath(r"C:\Users\Ada")
    temp = PureWindowsPath(r"C:\Users\Ada\AppData\Local\Temp")

    def win(path: str) -> str | None:
        return vanishing_reason(PureWindowsPath(path), platform="win32", home=home, temp=temp)

    assert win(r"C:\Users\Ada\AppData\Local\Programs\Murmuration\murmuration.exe") is None
    assert "Downloads" in (win(r"C:\Users\Ada\Downloads\murmuration\murmuration.exe") or "")
    zipped = win(r"C:\Users\Ada\AppData\Local\Temp\Temp1_murmuration-0.1.0-windows-x86_64.zip\murmuration\m.exe")
    assert zipped is not None
    assert "temporary folder" in zipped


def test_on_windows_agents_get_the_console_executable_and_the_desktop_the_windowed_one(tmp_path: Path) -> None:
    console, windowed = tmp_path / CONSOLE_EXE, tmp_path / WINDOWED_EXE
    console.write_bytes(b"MZ")
    windowed.write_bytes(b"MZ")
    assert twin(windowed, console=True, platform="win32") == console
    assert twin(console, console=True, platform="win32") == console
    assert twin(console, console=False, platform="win32") == windowed
    assert twin(windowed, console=False, platform="win32") == windowed
    # Not the bundle (a Python, or another OS): the executable itself.
    python = tmp_path / "python.exe"
    assert twin(python, console=True, platform="win32") == python
    assert twin(windowed, console=True, platform="linux") == windowed
    # A twin that is missing is never named.
    windowed.unlink()
    assert twin(console, console=False, platform="win32") == console


def python_in_downloads(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """This Python, started from ~/Downloads of a fresh HOME: as a copy of the app run from where it landed."""
    home = tmp_path / "home"
    bin_folder = home / "Downloads" / "murmuration" / "bin"
    bin_folder.mkdir(parents=True)
    python = bin_folder / "python3"
    python.symlink_to(sys.executable)
    env = {
        **os.environ,
        "HOME": str(home),
        # This source tree first: the editable install's import hook is a .pth file, which PYTHONPATH does not run.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "app"), *(p for p in sys.path if p)]),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    return python, env


@linux_only
def test_mcp_config_from_a_downloads_copy_is_refused_with_what_to_do(home: Path, tmp_path: Path) -> None:
    info = registry.create("Shop", home).read_info()
    python, env = python_in_downloads(tmp_path)
    result = subprocess.run(
        [str(python), "-m", "murmuration", "mcp-config", info.id],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("murmuration: Murmuration runs from your Downloads folder"), result.stderr
    assert result.stderr.count("\n") == 1


@linux_only
def test_start_at_login_from_a_downloads_copy_writes_no_login_item(tmp_path: Path) -> None:
    python, env = python_in_downloads(tmp_path)
    code = (
        "from murmuration.tray import autostart\n"
        "from murmuration.installation import VanishingInstallation\n"
        "try:\n    autostart.set_enabled(True)\n"
        "except VanishingInstallation as exc:\n    print(exc)\n"
        "print(autostart.is_enabled())\n"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    reason, enabled = result.stdout.splitlines()
    assert reason.startswith("Murmuration runs from your Downloads folder")
    assert enabled == "False"
    assert not (Path(env["XDG_CONFIG_HOME"]) / "autostart").exists()
    # From where this Python lasts, the same call writes the entry (so the refusal above is about the place).
    lasting = {**env, "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=lasting)
    assert result.stdout.splitlines() == ["True"], result.stderr
    assert (Path(env["XDG_CONFIG_HOME"]) / "autostart" / "murmuration.desktop").is_file()
