"""What the bundle leaves out of PySide6, for every OS: one list, read by murmuration.spec on Linux, macOS and Windows.

The app imports QtCore, QtGui, QtWidgets, QtNetwork, QtSvg and QtWebEngine (Core and Widgets) and nothing else. A
rule here names a Qt module by its name without the "Qt6"/"Qt" prefix, so it matches the Linux library
(`libQt6Quick3D.so.6`), the Windows one (`Qt6Quick3D.dll`) and the macOS framework (`QtQuick3D.framework/…`) alike.

On Linux, the libraries every desktop provides are left to the desktop (`SYSTEM_LIBRARIES`), and Qt's ICU data
(libicudata, 32 MB) is cut to what Qt reads: see `trim_icu_data`.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path, PurePosixPath

# Python bindings the app never imports. QtWebEngineCore links QtQuick, QtQml, QtPositioning and QtOpenGL, so their
# *libraries* stay (collected as its dependencies), but not their bindings or plugins. The QtWebChannel binding
# stays: PySide6.QtWebEngineCore imports it. QtPdf is not needed: WebEngine renders PDFs with its own pdfium.
UNUSED_BINDINGS = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer",
    "QtBluetooth", "QtCanvasPainter", "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDBus", "QtDesigner",
    "QtGraphs", "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimedia", "QtMultimediaWidgets",
    "QtNetworkAuth", "QtNfc", "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets", "QtPositioning", "QtQml",
    "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml",
    "QtSensors", "QtSerialBus", "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine", "QtSvgWidgets",
    "QtTest", "QtTextToSpeech", "QtUiTools", "QtWebEngineQuick", "QtWebSockets", "QtWebView", "QtXml",
)  # fmt: skip

# Qt libraries nothing that stays links (each a prefix: "Pdf" is QtPdf and QtPdfWidgets).
UNUSED_QT_LIBRARIES = (
    "3D", "Quick3D", "Multimedia", "Charts", "DataVisualization", "Bluetooth", "Sensors", "Pdf", "Designer", "Help",
    "Graphs", "Location", "SerialPort", "SerialBus", "Nfc", "TextToSpeech", "SpatialAudio", "Scxml",
    "RemoteObjects", "Sql", "Test", "QuickControls2", "QuickDialogs2", "QuickTemplates2", "WebEngineQuick", "Lottie",
    "ShaderTools", "VirtualKeyboard", "EglFSDeviceIntegration", "EglFsKmsSupport", "FFmpegStub",
)  # fmt: skip
# FFmpeg, which only QtMultimedia loads.
UNUSED_OTHER_LIBRARIES = ("avcodec", "avformat", "avutil", "swresample", "swscale")

# Plugins for what the app does not do: SQL, multimedia, QML tooling, embedded-Linux platforms (eglfs, linuxfb,
# vnc), evdev input, the virtual keyboard (it drags QtQuick controls along), GTK's theme (it drags GTK, cairo and
# pango along; Qt's own style and the desktop portal remain), printing through CUPS (it drags CUPS, GnuTLS and
# Kerberos along), rare image formats. xcb, wayland, offscreen and minimal stay: the tray runs on X11 and Wayland,
# the self-test and CI headless.
UNWANTED_PLUGINS = (
    "sqldrivers/", "multimedia/", "qmltooling/", "qmllint/", "position/", "geoservices/", "sensors/", "canbus/",
    "texttospeech/", "sceneparsers/", "assetimporters/", "renderers/", "renderplugins/", "geometryloaders/",
    "designer/", "scxmldatamodel/", "webview/", "egldeviceintegrations/", "generic/", "networkinformation/",
    "wayland-graphics-integration-server/", "platforms/libqeglfs", "platforms/libqlinuxfb", "platforms/libqvnc",
    "platforms/libqminimalegl", "platforms/libqvkkhrdisplay", "platforms/qdirect2d",
    "platforminputcontexts/libqtvirtualkeyboard", "platformthemes/libqgtk3", "imageformats/libqpdf",
    "imageformats/qpdf", "imageformats/libqtiff", "imageformats/qtiff", "imageformats/libqwebp",
    "imageformats/qwebp", "imageformats/libqtga", "imageformats/qtga", "imageformats/libqwbmp",
    "imageformats/qwbmp", "vectorimageformats/", "printsupport/",
)  # fmt: skip

# Python packages' own tests and benchmarks, which the app never runs.
UNUSED_DATA = ("jsonschema/benchmarks/",)

# Linux: libraries the target desktop always has, in a version that matches its drivers and its configuration, so
# the bundle uses the desktop's (the AppImage project's exclude list, which linuxdeployqt applies to Qt apps, names
# each with the failure that bundling it caused). A bundled libstdc++ or libgcc_s older than the desktop's stops Mesa's
# drivers (which need the newer one) from loading: no GPU for QtWebEngine (PyInstaller's maintainers advise removing
# it from one-folder builds). libgbm belongs to Mesa; a bundled libfontconfig cannot read a newer fonts.conf (fonts
# go missing or start-up stalls), libfreetype goes with it; a bundled libasound misses the desktop's ALSA plugins;
# libX11 must match the desktop's libxcb (which PyInstaller already leaves out). expat, zlib, uuid and com_err are in
# every base system. Every binary in the bundle needs at most GLIBCXX_3.4.29 (GCC 11), older than the libstdc++ of
# any system new enough for the glibc the bundle needs (2.34, Qt's).
SYSTEM_LIBRARIES = (
    "libstdc++.so.6", "libgcc_s.so.1", "libgbm.so.1", "libfontconfig.so.1", "libfreetype.so.6", "libasound.so.2",
    "libX11.so.6", "libX11-xcb.so.1", "libexpat.so.1", "libz.so.1", "libuuid.so.1", "libcom_err.so.2",
)  # fmt: skip

KEPT_LOCALE = "en-US.pak"  # the one WebEngine (Chromium) locale: it needs one, and the app's UI is English


def unused_library(part: str) -> bool:
    """Whether one component of a path names an unused library (Linux .so, Windows .dll or macOS framework)."""
    name = part.removeprefix("lib")
    for module in UNUSED_QT_LIBRARIES:
        if name.startswith((f"Qt6{module}", f"Qt{module}")):
            return True
    return name.startswith(UNUSED_OTHER_LIBRARIES)


def kept(dest: str) -> bool:
    """Whether a collected file stays in the bundle, by its path inside the bundle (any OS's separators)."""
    path = dest.replace("\\", "/")
    if "qtwebengine_locales/" in path:  # Linux and Windows under translations/, macOS in the framework's Resources
        return path.endswith(f"qtwebengine_locales/{KEPT_LOCALE}")
    if path.startswith("PySide6/") and "/translations/" in path:
        return False  # Qt's own translations: the app's UI is English only
    if path.endswith("qtwebengine_devtools_resources.pak"):
        return False  # the DevTools front end: the app never opens it
    if path.startswith(UNUSED_DATA) or "/__pycache__/" in path:
        return False
    if path in SYSTEM_LIBRARIES:  # top level of the bundle, where PyInstaller puts what it copies from the system
        return False
    if "/plugins/" in path and any(unwanted in path for unwanted in UNWANTED_PLUGINS):
        return False
    return not any(unused_library(part) for part in PurePosixPath(path).parts)


# --- ICU data --------------------------------------------------------------------------------------------------
#
# QtCore links ICU, whose data library holds every locale's names of languages, regions, currencies, units and time
# zones, transliterators, spelled-out numbers, 200 legacy character sets, break rules and dictionaries, and each
# locale's formats. QtCore (the only library in the bundle that links ICU) calls ICU for four things only, and
# test_trim.py fails if that list grows: collation (ucol_*, which sorts a file dialog's names), case mapping
# (u_strToUpper/u_strToLower, whose data is built into libicuuc), time zones (ucal_*) and converters (ucnv_*). Its own
# CLDR tables format and name locales, and QtWebEngine brings a separate ICU of its own (icudtl.dat). So the data
# keeps the collation tree, the zone rules and calendars, the converters' aliases and the root locale, and loses
# the rest: test_trim.py proves the kept calls answer byte for byte as with the whole data.
ICU_DROPPED_TREES = ("lang/", "region/", "curr/", "zone/", "unit/", "translit/", "rbnf/", "brkitr/")
# Legacy converters (UTF-8/16/32 need none), character names, stringprep profiles and spoof checks.
ICU_DROPPED_SUFFIXES = (".cnv", "unames.icu", ".spp", ".cfu")
# A locale's own bundle at the top of the tree ("de.res", "zh_Hant_TW.res"): its formats and display names, which
# only ICU's formatting APIs read. "res_index.res", the list of installed locales, is not one.
ICU_LOCALE_BUNDLE = re.compile(r"(?!res_index\.)[a-z]{2,3}(_[A-Za-z0-9]+)*\.res")
ICU_ALIGN = 16


def icu_item_dropped(name: str) -> bool:
    """Whether the ICU data item `name` ("icudt73l/lang/de.res") goes."""
    inner = name.split("/", 1)[-1]
    if inner.startswith(ICU_DROPPED_TREES) or inner.endswith(ICU_DROPPED_SUFFIXES):
        return True
    return ICU_LOCALE_BUNDLE.fullmatch(inner) is not None


def trim_icu_common_data(data: bytes) -> bytes:
    """An ICU common data package (the "CmnD" format: a header, a table of contents, the items) without the
    dropped items; the kept ones in their order (ICU finds them by binary search), each at a 16-byte boundary."""
    header_size = struct.unpack_from("<H", data, 0)[0]
    if data[2:4] != b"\xda\x27" or data[12:16] != b"CmnD" or header_size % ICU_ALIGN:
        raise ValueError("not a little-endian ICU common data package")
    toc = data[header_size:]
    count = struct.unpack_from("<I", toc, 0)[0]
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    ends = [offset for _, offset in entries[1:]] + [len(toc)]
    items = []
    for (name_offset, data_offset), end in zip(entries, ends, strict=True):
        name = toc[name_offset : toc.index(b"\0", name_offset)]
        if not icu_item_dropped(name.decode("ascii")):
            items.append((name, toc[data_offset:end]))
    names_start = 4 + 8 * len(items)
    names, name_offsets = bytearray(), []
    for name, _ in items:
        name_offsets.append(names_start + len(names))
        names += name + b"\0"
    body, data_offsets = bytearray(), []
    position = names_start + len(names)
    position += -position % ICU_ALIGN
    for _, item in items:
        data_offsets.append(position + len(body))
        body += item + b"\0" * (-len(item) % ICU_ALIGN)
    table = struct.pack("<I", len(items)) + b"".join(
        struct.pack("<II", n, d) for n, d in zip(name_offsets, data_offsets, strict=True)
    )
    head = table + names
    head += b"\0" * (-len(head) % ICU_ALIGN)
    return data[:header_size] + head + bytes(body)


def trim_icu_data(library: Path, work: Path) -> Path | None:
    """A copy of the ICU data library `library` (libicudata.so.NN) with the trimmed data, built in `work`.

    None, with a line saying why, when this machine cannot build it (no C compiler or objcopy): the bundle then
    carries the whole data, which works, only bigger.
    """
    compiler, objcopy = shutil.which("cc") or shutil.which("gcc"), shutil.which("objcopy")
    if compiler is None or objcopy is None:
        print(f"trim.py: no C compiler or objcopy here; {library.name} ships whole.", flush=True)
        return None
    work.mkdir(parents=True, exist_ok=True)
    whole = work / "icudata-whole.dat"
    subprocess.run([objcopy, "-O", "binary", "--only-section=.rodata", str(library), str(whole)], check=True)
    trimmed = work / "icudata.dat"
    trimmed.write_bytes(trim_icu_common_data(whole.read_bytes()))
    symbol = "icudt" + library.name.split(".so.")[1] + "_dat"  # libicudata.so.73: icudt73_dat, what libicuuc imports
    source = work / "icudata.S"
    source.write_text(
        f".section .rodata\n.globl {symbol}\n.type {symbol}, @object\n.balign {ICU_ALIGN}\n{symbol}:\n"
        f'.incbin "{trimmed}"\n.size {symbol}, . - {symbol}\n.section .note.GNU-stack,"",@progbits\n'
    )
    built = work / library.name
    command = [compiler, "-shared", "-nostdlib", f"-Wl,-soname,{library.name}", "-o", str(built), str(source)]
    subprocess.run(command, check=True)
    print(f"trim.py: ICU data {whole.stat().st_size / 1e6:.1f} MB -> {trimmed.stat().st_size / 1e6:.1f} MB", flush=True)
    return built
