"""Build the bundle into a folder and record the outcome: `python frozen_build.py PLACE`.

tests/packaging/conftest.py runs it in the background at the start of a session (and calls `build` directly when a
test needs the bundle and none was started). It inherits a descriptor locked on PLACE/build.lock and holds it
until build.json is written, so whoever waits for the lock finds the outcome there. Standard library only: it runs
as a script, outside the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = ROOT / "packaging" / "build.py"
BUILD_TIMEOUT = 3000.0  # PyInstaller, then xz over 370 MB on a loaded 2-core machine
# The suite packs with xz's fastest preset: -6 (what ships) spends about 5 processor-minutes on the archive, -0 under
# one, for an archive about a fifth bigger. The packing is the same code either way; the compressed-size goal is
# checked where the shipped preset runs, `make package` (packaging/build.py prints the size beside its goal).
SUITE_XZ_PRESET = "0"


def narrow_console_environment() -> dict[str, str]:
    """A console as narrow as a Windows runner's (cp1252) under LANG=C: what the build prints must not depend on it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    return {**env, "PYTHONIOENCODING": "cp1252", "LANG": "C"}


def build(place: Path) -> dict[str, Any]:
    """Run packaging/build.py (without its self-test: the tests run that) into `place`; its exit code and output."""
    command = [sys.executable, str(BUILD_SCRIPT), "--dist", str(place / "dist"), "--work", str(place / "work")]
    command += ["--xz-preset", SUITE_XZ_PRESET]
    started = time.monotonic()
    try:
        result = subprocess.run(
            [*command, "--no-self-test"],
            capture_output=True,
            encoding="cp1252",
            errors="replace",
            timeout=BUILD_TIMEOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=narrow_console_environment(),
        )
    except subprocess.TimeoutExpired as exc:
        return {
            "code": -1,
            "stdout": str(exc.stdout),
            "stderr": f"the build took over {BUILD_TIMEOUT:.0f} s",
            "seconds": BUILD_TIMEOUT,
        }
    return {
        "code": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "seconds": time.monotonic() - started,
    }


def main(place: str) -> None:
    record = Path(place) / "build.json"
    outcome = build(Path(place))
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(outcome))
    partial.replace(record)  # whole or absent: a reader never sees half an outcome


if __name__ == "__main__":
    main(sys.argv[1])
