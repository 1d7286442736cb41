"""packaging/trim.py: one list of what the bundle leaves out, right for each OS's layout, and Qt's ICU data cut by it.

The frozen build proves the list on Linux (tests/packaging/test_bundle.py runs the built bundle's self-test); the
layouts of macOS and Windows are checked here on their paths, since the release workflow is their only build.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.packaging.conftest import ROOT


def load_trim() -> ModuleType:
    # By path: `packaging` is also the name of a library on sys.path.
    spec = importlib.util.spec_from_file_location("murmuration_trim", ROOT / "packaging" / "trim.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


trim = load_trim()

# The same library, plugin or resource as each OS's PySide6 wheel lays it out.
DROPPED = {
    "Qt3D": (
        "PySide6/Qt/lib/libQt63DCore.so.6",
        "PySide6/Qt63DCore.dll",
        "PySide6/Qt/lib/Qt3DCore.framework/Versions/A/Qt3DCore",
    ),
    "QtQuick3D": (
        "PySide6/Qt/lib/libQt6Quick3D.so.6",
        "PySide6/Qt6Quick3D.dll",
        "PySide6/Qt/lib/QtQuick3D.framework/Versions/A/QtQuick3D",
    ),
    "QtPdf": (
        "PySide6/Qt/lib/libQt6Pdf.so.6",
        "PySide6/Qt6Pdf.dll",
        "PySide6/Qt/lib/QtPdf.framework/Versions/A/QtPdf",
    ),
    "FFmpeg": ("PySide6/Qt/lib/libavcodec.so.61", "PySide6/avcodec-61.dll", "PySide6/Qt/lib/libavcodec.61.dylib"),
    "a locale": (
        "PySide6/Qt/translations/qtwebengine_locales/de.pak",
        "PySide6/translations/qtwebengine_locales/de.pak",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/Resources/qtwebengine_locales/de.lproj/de.pak",
    ),
    "the DevTools": (
        "PySide6/Qt/resources/qtwebengine_devtools_resources.pak",
        "PySide6/resources/qtwebengine_devtools_resources.pak",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/Resources/qtwebengine_devtools_resources.pak",
    ),
    "SQL drivers": (
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
        "PySide6\\plugins\\sqldrivers\\qsqlite.dll",
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.dylib",
    ),
    "Qt's translations": (
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/translations/qtbase_de.qm",
        "PySide6/Qt/translations/qtbase_de.qm",
    ),
}
KEPT = {
    "QtWebEngineCore": (
        "PySide6/Qt/lib/libQt6WebEngineCore.so.6",
        "PySide6/Qt6WebEngineCore.dll",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/QtWebEngineCore",
    ),
    "QtQuick, which QtWebEngineCore links": (
        "PySide6/Qt/lib/libQt6Quick.so.6",
        "PySide6/Qt6Quick.dll",
        "PySide6/Qt/lib/QtQuick.framework/Versions/A/QtQuick",
    ),
    "the English locale": (
        "PySide6/Qt/translations/qtwebengine_locales/en-US.pak",
        "PySide6/translations/qtwebengine_locales/en-US.pak",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/Resources/qtwebengine_locales/en-US.pak",
    ),
    "the platform plugin": (
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6\\plugins\\platforms\\qwindows.dll",
        "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    ),
    "the SVG icon engine": (
        "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
        "PySide6/plugins/iconengines/qsvgicon.dll",
        "PySide6/Qt/plugins/iconengines/libqsvgicon.dylib",
    ),
}


@pytest.mark.parametrize("what", sorted(DROPPED))
def test_what_the_app_never_loads_is_dropped_on_every_os(what: str) -> None:
    for path in DROPPED[what]:
        assert not trim.kept(path), path


@pytest.mark.parametrize("what", sorted(KEPT))
def test_what_the_app_loads_stays_on_every_os(what: str) -> None:
    for path in KEPT[what]:
        assert trim.kept(path), path


def test_the_spec_takes_its_rules_from_trim_only() -> None:
    spec = (ROOT / "packaging" / "murmuration.spec").read_text()
    assert "import trim" in spec
    for rule in ("UNWANTED", "qtwebengine_locales", "sqldrivers", "Qt6Quick3D", "UNUSED_QT ="):
        assert rule not in spec, f"{rule!r} is a rule of packaging/trim.py, not of the spec"


# --- ICU data ----------------------------------------------------------------------------------------------------


def qt_library_folder() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "lib"


ICU_PROBE = textwrap.dedent(
    """
    import ctypes, json, sys
    folder, version = sys.argv[1], sys.argv[2]
    uc = ctypes.CDLL(f"{folder}/libicuuc.so.{version}")
    i18n = ctypes.CDLL(f"{folder}/libicui18n.so.{version}")
    def opens(library, function, *args):
        error = ctypes.c_int(0)
        call = getattr(library, f"{function}_{version}")
        call.restype = ctypes.c_void_p
        handle = call(*args, ctypes.byref(error))
        return error.value <= 0 and handle is not None  # ICU: 0 is success, below 0 a warning, above an error
    print(json.dumps({
        "collation de": opens(i18n, "ucol_open", b"de"),
        "collation zh": opens(i18n, "ucol_open", b"zh"),
        "UTF-8": opens(uc, "ucnv_open", b"UTF-8"),
        "line breaks": opens(uc, "ubrk_open", 2, b"en", None, 0),
        "Shift_JIS": opens(uc, "ucnv_open", b"Shift_JIS"),
    }))
    """
)


def icu_answers(folder: Path, version: str) -> dict[str, bool]:
    """What ICU can open with the libraries in `folder` (its own process: a library loads once per process)."""
    result = subprocess.run(
        [sys.executable, "-c", ICU_PROBE, str(folder), version],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LD_LIBRARY_PATH": str(folder), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, bool] = json.loads(result.stdout)
    return answers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux's PySide6 carries ICU's data")
def test_the_trimmed_icu_data_still_collates_converts_utf8_and_breaks_lines(tmp_path: Path) -> None:
    qt = qt_library_folder()
    whole = next(qt.glob("libicudata.so.*"))
    version = whole.name.split(".so.")[1]
    built = trim.trim_icu_data(whole, tmp_path / "work")
    assert built is not None, "this machine has cc and objcopy: the trimmed library must be built"
    assert built.stat().st_size < whole.stat().st_size * 0.5
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy2(built, folder / whole.name)
    for name in (f"libicuuc.so.{version}", f"libicui18n.so.{version}"):
        shutil.copy2(qt / name, folder / name)
    trimmed = icu_answers(folder, version)
    # What Qt uses ICU for opens as with the whole data; a legacy character set (only converters use it) is gone.
    assert trimmed == {**icu_answers(qt, version), "Shift_JIS": False}
    assert icu_answers(qt, version)["Shift_JIS"], "the whole data converts Shift_JIS: the probe can tell the two apart"


def test_trimming_keeps_every_kept_item_byte_for_byte() -> None:
    qt = qt_library_folder()
    whole = next(qt.glob("libicudata.so.*"), None)
    if whole is None:
        pytest.skip("only Linux's PySide6 carries ICU's data")
    objcopy = shutil.which("objcopy")
    assert objcopy is not None
    data = subprocess.run(
        [objcopy, "-O", "binary", "--only-section=.rodata", str(whole), "/dev/stdout"], capture_output=True, check=True
    ).stdout
    before, after = items(data), items(trim.trim_icu_common_data(data))
    assert after == {name: item for name, item in before.items() if not trim.icu_item_dropped(name)}
    assert any(name.endswith("/lang/de.res") for name in before)
    assert not any("/lang/" in name for name in after)
    assert sorted(after) == list(after), "ICU finds an item by binary search: the names stay in order"


def items(data: bytes) -> dict[str, bytes]:
    """The items of an ICU common data package by name, each without the padding after it."""
    header = struct.unpack_from("<H", data, 0)[0]
    toc = data[header:]
    count = struct.unpack_from("<I", toc, 0)[0]
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    ends = [offset for _, offset in entries[1:]] + [len(toc)]
    found = {}
    for (name_offset, offset), end in zip(entries, ends, strict=True):
        assert offset % 16 == 0
        name = toc[name_offset : toc.index(b"\0", name_offset)].decode()
        found[name] = toc[offset:end].rstrip(b"\0")
    return found
