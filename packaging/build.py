"""Build the one-folder bundle with PyInstaller, prove it with its own `--self-test`, pack it and print its sizes.

    python packaging/build.py [--dist DIR] [--work DIR] [--no-self-test] [--strict-sizes] [--xz-preset N]

Linux: DIST/murmuration/ (with murmuration.desktop inside), DIST/murmuration.desktop and a .tar.xz.
macOS: DIST/Murmuration.app and a .dmg. Windows: DIST/murmuration/ with murmuration.exe (the command line, the
server, the MCP bridge) and murmuration-tray.exe (the Start-menu entry), a .zip, and the installer when Inno Setup's
ISCC is installed. The build fails when the frozen self-test fails (and, with --strict-sizes, when a size is over
its goal). It prints only ASCII, so no console encoding (cp1252 on Windows, ASCII under LANG=C) can fail it.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "murmuration.spec"
ICONS = ROOT / "resources" / "icons"
MB = 1_000_000
UNPACKED_GOAL = 330 * MB
COMPRESSED_GOAL = 120 * MB
LARGEST_PARTS = 15  # rows of the size table: where the next regression will show
XZ_PRESET = 6  # what ships: xz's default; presets 7 to 9 need up to 65 MiB instead of 9 MiB to unpack
HDIUTIL_TRIES = 5  # `hdiutil create` fails now and then on CI runners with "Resource busy"

DESKTOP_ENTRY = """[Desktop Entry]
Type=Application
Name=Murmuration
GenericName=AI agent hub
Comment=A local hub for AI coding agents: processes, a queue, issues and knowledge per instance
Exec={exec}
Icon={icon}
Terminal=false
Categories=Development;
Keywords=agents;MCP;AI;
StartupNotify=false
"""

INSTALL_DESKTOP_ENTRY = """#!/bin/sh
# Add Murmuration to this user's application menu, pointing at this folder (run it again after moving the folder).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps"
cp "$here/murmuration.png" "$data/icons/hicolor/256x256/apps/murmuration.png"
sed "s|^Exec=.*|Exec=\\"$here/murmuration\\"|" "$here/murmuration.desktop" > "$data/applications/murmuration.desktop"
echo "Added Murmuration to the application menu ($data/applications/murmuration.desktop)."
"""


def version() -> str:
    sys.path.insert(0, str(ROOT / "app"))
    from murmuration import __version__

    return __version__


def machine() -> str:
    arch = platform.machine().lower()
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(arch, arch)


def folder_size(path: Path) -> int:
    """Bytes in the files under `path` (symbolic links count as themselves, not what they point at)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def largest_parts(folder: Path, count: int = LARGEST_PARTS) -> list[tuple[int, str]]:
    """The `count` largest files under `folder`, biggest first, as (bytes, path inside the folder)."""
    sizes = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            sizes.append((os.lstat(path).st_size, Path(path).relative_to(folder).as_posix()))
    return sorted(sizes, reverse=True)[:count]


def size_table(folder: Path, total: int) -> str:
    """The largest parts of the bundle with their share of it, one per line."""
    lines = [f"largest parts of {folder.name} ({total / MB:.1f} MB in all):"]
    for size, path in largest_parts(folder):
        lines.append(f"  {size / MB:8.1f} MB  {100 * size / total:5.1f} %  {path}")
    return "\n".join(lines)


def children_cpu() -> float:
    """Seconds of processor time the finished child processes (PyInstaller, the self-test, xz) used so far."""
    times = os.times()
    return times.children_user + times.children_system


def run_pyinstaller(dist: Path, work: Path) -> None:
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level=WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def self_test(executable: Path) -> None:
    """Run the frozen build's own `--self-test`; a build that cannot start is not shipped."""
    print(f"+ {executable} --self-test", flush=True)
    started = time.monotonic()
    result = subprocess.run([str(executable), "--self-test"], stdin=subprocess.DEVNULL, timeout=300, check=False)
    if result.returncode != 0:
        raise SystemExit(f"build.py: the frozen self-test failed (exit {result.returncode}); not packing this build.")
    print(f"frozen self-test: ok in {time.monotonic() - started:.1f} s", flush=True)


def pack_linux(dist: Path, bundle: Path, name: str, preset: int) -> Path:
    shutil.copy2(ICONS / "murmuration-256.png", bundle / "murmuration.png")
    entry = DESKTOP_ENTRY.format(exec="murmuration", icon="murmuration")
    (bundle / "murmuration.desktop").write_text(entry)
    (dist / "murmuration.desktop").write_text(entry)
    script = bundle / "install-desktop-entry.sh"
    script.write_text(INSTALL_DESKTOP_ENTRY)
    script.chmod(0o755)
    archive = dist / f"{name}.tar.xz"
    write_tar_xz(archive, bundle, "murmuration", preset)
    return archive


def write_tar_xz(archive: Path, folder: Path, arcname: str, preset: int = XZ_PRESET) -> None:
    """`folder` as a .tar.xz: through xz on every core when it is installed, else through Python's lzma (one core).

    xz, because it is 29 % smaller than gzip on Qt's libraries (measured on 51 MB of them) and every Linux unpacks
    it (`tar -xf`); xz itself, because 390 MB take minutes on one core.
    """
    xz = shutil.which("xz")
    if xz is None:
        with tarfile.open(archive, "w:xz", preset=preset) as tar:
            tar.add(folder, arcname=arcname)
        return
    with open(archive, "wb") as out:
        command = [xz, f"-{preset}", "--threads=0", "--stdout"]
        compressor = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out)
        assert compressor.stdin is not None
        try:
            with tarfile.open(fileobj=compressor.stdin, mode="w|") as tar:
                tar.add(folder, arcname=arcname)
        finally:
            compressor.stdin.close()
            code = compressor.wait()
    if code != 0:
        raise SystemExit(f"build.py: xz failed (exit {code}) while packing {archive.name}.")


def pack_mac(dist: Path, app: Path, name: str) -> Path:
    staging = dist / "dmg"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)
    (staging / "Applications").symlink_to("/Applications")
    image = dist / f"{name}.dmg"
    image.unlink(missing_ok=True)
    # ULMO (lzma) is the smallest read-only format; it needs macOS 10.15, and the app needs 13 anyway.
    command = ["hdiutil", "create", "-volname", "Murmuration", "-srcfolder", str(staging), "-ov"]
    command += ["-format", "ULMO", str(image)]
    for attempt in range(1, HDIUTIL_TRIES + 1):
        print("+", " ".join(command), flush=True)
        if subprocess.run(command, check=False).returncode == 0:
            break
        if attempt == HDIUTIL_TRIES:
            raise SystemExit(f"build.py: hdiutil create failed {HDIUTIL_TRIES} times; see its messages above.")
        time.sleep(5 * attempt)  # whatever held the image ("Resource busy") lets go within seconds
    shutil.rmtree(staging)
    return image


def pack_windows(dist: Path, bundle: Path, name: str, release: str) -> Path:
    archive = dist / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(bundle.rglob("*")):
            zf.write(path, Path("murmuration") / path.relative_to(bundle))
    iscc = shutil.which("iscc") or r"C:\Program Files (x86)\Inno Setup 6\ISCC.exe"
    if Path(iscc).exists():
        script = ROOT / "packaging" / "windows" / "murmuration.iss"
        defines = [
            f"/DAppVersion={release}",
            f"/DBundleDir={bundle}",
            f"/DOutputDir={dist}",
            f"/DOutputName={name}-setup",
        ]
        subprocess.run([iscc, *defines, str(script)], check=True)
        return dist / f"{name}-setup.exe"
    print("build.py: Inno Setup (ISCC) is not installed; made the .zip only.", flush=True)
    return archive


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")  # a path the console cannot spell shows "?" rather than failing
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (default build/)")
    parser.add_argument("--no-self-test", action="store_true", help="skip running the frozen --self-test")
    parser.add_argument("--strict-sizes", action="store_true", help="fail when a size is over its goal")
    parser.add_argument(
        "--xz-preset",
        type=int,
        choices=range(10),
        default=XZ_PRESET,
        metavar="N",
        help=f"xz's preset for the Linux archive (default {XZ_PRESET}, what ships; the compressed goal is for it)",
    )
    args = parser.parse_args(argv)
    dist, work = args.dist.absolute(), args.work.absolute()
    release = version()
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
    name = f"murmuration-{release}-{system}-{machine()}"

    started = time.monotonic()
    run_pyinstaller(dist, work)
    built, built_cpu = time.monotonic() - started, children_cpu()
    if system == "macos":
        shipped = dist / "Murmuration.app"
        executable = shipped / "Contents" / "MacOS" / "murmuration"
    else:
        shipped = dist / "murmuration"
        executable = shipped / ("murmuration.exe" if system == "windows" else "murmuration")
    if not args.no_self_test:
        self_test(executable)
    if system == "macos":
        package = pack_mac(dist, shipped, name)
    elif system == "windows":
        package = pack_windows(dist, shipped, name, release)
    else:
        package = pack_linux(dist, shipped, name, args.xz_preset)

    unpacked, compressed = folder_size(shipped), package.stat().st_size
    # The compressed goal is for what ships: an archive packed faster (the test suite's) is only reported.
    shipping = system != "linux" or args.xz_preset == XZ_PRESET
    sizes = [("unpacked", unpacked, UNPACKED_GOAL)]
    if shipping:
        sizes.append(("compressed", compressed, COMPRESSED_GOAL))
    took = time.monotonic() - started
    print(f"build time: {built:.0f} s (PyInstaller), {took:.0f} s in all", end="")
    # The processor time of the children (zero on Windows, which does not count it): the load-free part of it.
    print(f"; processor time: {built_cpu:.0f} s (PyInstaller), {children_cpu():.0f} s in all")
    print(size_table(shipped, unpacked))
    print(f"unpacked size: {unpacked / MB:.1f} MB ({shipped}; goal <= {UNPACKED_GOAL // MB} MB)")
    goal = f"goal <= {COMPRESSED_GOAL // MB} MB" if shipping else f"packed with xz -{args.xz_preset}: no goal"
    print(f"compressed size: {compressed / MB:.1f} MB ({package}; {goal})", flush=True)
    over = [(what, size, goal) for what, size, goal in sizes if size > goal]
    for what, size, goal in over:
        print(f"build.py: the {what} size is {(size - goal) / MB:.1f} MB over its goal.", file=sys.stderr)
    if over and args.strict_sizes:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
