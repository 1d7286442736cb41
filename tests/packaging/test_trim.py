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


def test_linux_leaves_the_desktops_own_libraries_to_the_desktop() -> None:
    for library in ("libstdc++.so.6", "libgcc_s.so.1", "libfontconfig.so.1", "libgbm.so.1", "libX11.so.6"):
        assert not trim.kept(library), library
    # What a desktop may lack or have in another version stays: OpenSSL, NSS (QtWebEngine's), Python, SQLite.
    for library in ("libssl.so.3", "libcrypto.so.3", "libnss3.so", "libpython3.11.so.1.0", "libsqlite3.so.0"):
        assert trim.kept(library), library
    # Only at the top of the bundle, where PyInstaller puts what it copies from the system.
    assert trim.kept("somepackage/libz.so.1")


def test_the_spec_takes_its_rules_from_trim_only() -> None:
    spec = (ROOT / "packaging" / "murmuration.spec").read_text()
    assert "import trim" in spec
    for rule in ("UNWANTED", "qtwebengine_locales", "sqldrivers", "Qt6Quick3D", "UNUSED_QT ="):
        assert rule not in spec, f"{rule!r} is a rule of packaging/trim.py, not of the spec"


# --- ICU data ----------------------------------------------------------------------------------------------------


def qt_library_folder() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "lib"


# Every call QtCore makes into ICU, as the ICU functions it imports (prefixes): what the trimmed data must still serve.
QT_ICU_CALLS = ("ucol_", "ucnv_", "UCNV_", "ucal_", "u_strToUpper", "u_strToLower")

# Asks ICU what QtCore asks it, and what only the dropped data answers, and prints every answer. Collation: each
# locale's sort keys of words that collate differently across languages. Its own process per data: ICU loads once.
ICU_PROBE = textwrap.dedent(
    """
    import ctypes, json, sys
    folder, version, locales = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    uc = ctypes.CDLL(f"{folder}/libicuuc.so.{version}")
    i18n = ctypes.CDLL(f"{folder}/libicui18n.so.{version}")
    def icu(library, function, restype=ctypes.c_int):
        call = getattr(library, f"{function}_{version}")
        call.restype = restype
        return call
    def u16(text):
        return ctypes.create_string_buffer(text.encode("utf-16-le") + b"\\0\\0"), len(text.encode("utf-16-le")) // 2
    WORDS = ["apple", "\u00c4pfel", "zebra", "Z\u00fcrich", "\u00df", "ss", "ni\u00f1o", "\u00e7a", "ch", "cz",
             "\u4e2d\u6587", "\u65e5\u672c", "\ud55c\uad6d\uc5b4", "\u03a9", "\u041e\u041c", "10", "9", "a-b", "ab",
             "\u01c6", "\u0e0a\u0e49\u0e32\u0e07", "\u0e44\u0e01\u0e48", "\u00e6", "\u00f8", "\u00e5", "\u0131"]
    answers = {}
    for locale in locales:
        error = ctypes.c_int(0)
        collator = icu(i18n, "ucol_open", ctypes.c_void_p)(locale.encode(), ctypes.byref(error))
        keys = []
        for word in WORDS if collator else []:
            key = ctypes.create_string_buffer(512)
            size = icu(i18n, "ucol_getSortKey")(ctypes.c_void_p(collator), *u16(word), key, 512)
            keys.append(key.raw[:size].hex())
        answers[f"collation {locale}"] = [error.value, keys]
    for locale in ("tr", "az", "lt", "el", "nl", "de", ""):
        for function, text in (("u_strToUpper", "istanbul \u01c6 \u00df ijssel \u03ac\u03bb\u03c6\u03b1"),
                               ("u_strToLower", "\u0130STANBUL \u01c4 \u03a3\u0391\u03a3 IJSSEL I\u0130")):
            out, error = ctypes.create_string_buffer(400), ctypes.c_int(0)
            size = icu(uc, function)(out, 200, *u16(text), locale.encode(), ctypes.byref(error))
            answers[f"{function} {locale}"] = [error.value, out.raw[: 2 * size].decode("utf-16-le")]
    for zone in ("US/Pacific", "Europe/Berlin", "Asia/Kolkata", "Etc/GMT+5", "Nowhere/Else"):
        out, system, error = ctypes.create_string_buffer(200), ctypes.c_byte(0), ctypes.c_int(0)
        size = icu(i18n, "ucal_getCanonicalTimeZoneID")(*u16(zone), out, 100, ctypes.byref(system), ctypes.byref(error))
        answers[f"zone id {zone}"] = [error.value, out.raw[: 2 * size].decode("utf-16-le"), system.value]
        error = ctypes.c_int(0)
        calendar = icu(i18n, "ucal_open", ctypes.c_void_p)(*u16(zone), b"de_DE", 0, ctypes.byref(error))
        answers[f"calendar {zone}"] = error.value
        out, error = ctypes.create_string_buffer(400), ctypes.c_int(0)
        display_name = icu(i18n, "ucal_getTimeZoneDisplayName")
        size = display_name(ctypes.c_void_p(calendar), 0, b"de_DE", out, 200, ctypes.byref(error))
        answers[f"zone name {zone}"] = out.raw[: 2 * size].decode("utf-16-le")
    for name in ("UTF-8", "UTF-16LE", "US-ASCII", "ISO-8859-1", "Shift_JIS", "windows-1252"):
        error = ctypes.c_int(0)
        icu(uc, "ucnv_open", ctypes.c_void_p)(name.encode(), ctypes.byref(error))
        answers[f"converter {name}"] = error.value
    error = ctypes.c_int(0)
    icu(uc, "ubrk_open", ctypes.c_void_p)(2, b"th", None, 0, ctypes.byref(error))
    answers["line breaks"] = error.value
    print(json.dumps(answers))
    """
)


def icu_answers(folder: Path, version: str, locales: list[str]) -> dict[str, object]:
    """ICU's answers with the libraries in `folder`, by question."""
    result = subprocess.run(
        [sys.executable, "-c", ICU_PROBE, str(folder), version, ",".join(locales)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"LD_LIBRARY_PATH": str(folder), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, object] = json.loads(result.stdout)
    return answers


def whole_icu_data(library: Path) -> bytes:
    objcopy = shutil.which("objcopy")
    assert objcopy is not None
    command = [objcopy, "-O", "binary", "--only-section=.rodata", str(library), "/dev/stdout"]
    return subprocess.run(command, capture_output=True, check=True).stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux's PySide6 carries ICU's data")
def test_qt_calls_icu_only_for_what_the_trimmed_data_keeps() -> None:
    nm = shutil.which("nm")
    assert nm is not None, "binutils (nm, objcopy) build the trimmed ICU data"
    version = next(qt_library_folder().glob("libicudata.so.*")).name.split(".so.")[1]
    importers = []
    for library in sorted(qt_library_folder().glob("*.so*")):
        listed = subprocess.run([nm, "-D", "--undefined-only", str(library)], capture_output=True, text=True)
        calls = {line.split()[-1] for line in listed.stdout.splitlines() if line.endswith(f"_{version}")}
        if calls and not library.name.startswith("libicu"):
            importers.append(library.name)
            unserved = sorted(call for call in calls if not call.startswith(QT_ICU_CALLS))
            # A new kind of call needs its data back in the trim (packaging/trim.py says what goes and why).
            assert not unserved, f"{library.name} calls ICU for more than the trim keeps: {unserved}"
    assert importers == ["libQt6Core.so.6"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux's PySide6 carries ICU's data")
def test_the_trimmed_icu_data_answers_qts_calls_as_the_whole_data_does(tmp_path: Path) -> None:
    qt = qt_library_folder()
    whole = next(qt.glob("libicudata.so.*"))
    version = whole.name.split(".so.")[1]
    built = trim.trim_icu_data(whole, tmp_path / "work")
    assert built is not None, "this machine has cc and objcopy: the trimmed library must be built"
    assert built.stat().st_size < whole.stat().st_size * 0.2
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy2(built, folder / whole.name)
    for name in (f"libicuuc.so.{version}", f"libicui18n.so.{version}"):
        shutil.copy2(qt / name, folder / name)
    # Every locale with a collation of its own, and locales that have only formats (they fall back to a parent's).
    collations = {name.rsplit("/", 1)[1][: -len(".res")] for name in items(whole_icu_data(whole)) if "/coll/" in name}
    locales = [*sorted(collations - {"res_index"}), "de_AT", "en_US", "pt_BR", "zh_Hant_TW", "sr_Latn_RS", "th_TH"]
    assert len(locales) > 100
    before, after = icu_answers(qt, version, locales), icu_answers(folder, version, locales)
    # What goes with the dropped data: zone names, legacy character sets, break rules (QtCore never asks for the last).
    differ = {"line breaks", "converter Shift_JIS", "converter windows-1252"}
    differ |= {question for question in before if question.startswith("zone name ")}
    # ICU: 0 is success, below 0 a warning, above an error.
    assert before["line breaks"] <= 0 < after["line breaks"], "the probe tells kept data from dropped data"
    assert before["zone name Europe/Berlin"] == "Mitteleurop\u00e4ische Normalzeit"
    assert {q: a for q, a in after.items() if q not in differ} == {q: a for q, a in before.items() if q not in differ}
    assert all(before[f"collation {locale}"][1] for locale in locales), "every locale collates"


def test_trimming_keeps_every_kept_item_byte_for_byte() -> None:
    qt = qt_library_folder()
    whole = next(qt.glob("libicudata.so.*"), None)
    if whole is None:
        pytest.skip("only Linux's PySide6 carries ICU's data")
    data = whole_icu_data(whole)
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
