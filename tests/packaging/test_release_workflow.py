"""The release workflow and the installer script: checked here, since macOS and Windows cannot build on this machine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    assert found.is_file() or shutil.which("actionlint"), "actionlint is missing: pip install -e '.[test]'"
    return str(found) if found.is_file() else str(shutil.which("actionlint"))


def test_actionlint_finds_nothing_in_the_release_workflow() -> None:
    result = subprocess.run(
        [actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_is_no_rubber_stamp(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    result = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "matrix" in result.stdout


def test_every_os_builds_self_tests_and_uploads() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["package"]
    oses = job["strategy"]["matrix"]["os"]
    assert {os.split("-")[0] for os in oses} == {"ubuntu", "macos", "windows"}
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "make package" in runs
    assert "packaging/build.py" in runs
    assert runs.count("--self-test") >= 3
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in job["steps"])


def test_the_installer_script_has_a_start_menu_entry_and_an_uninstaller() -> None:
    script = (ROOT / "packaging" / "windows" / "murmuration.iss").read_text()
    assert r'Name: "{group}\Murmuration"; Filename: "{app}\murmuration-tray.exe"' in script
    assert r'Name: "{group}\Uninstall Murmuration"; Filename: "{uninstallexe}"' in script
    assert "Uninstallable=no" not in script
