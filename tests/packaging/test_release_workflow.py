"""The release workflow, the spec's macOS keys and the installer script: checked here, since macOS and Windows
cannot build on this machine (the workflow's own jobs prove them there)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
SPEC = ROOT / "packaging" / "murmuration.spec"
INDEX = "https://pypi.org/simple/{name}/"  # PEP 691 JSON: every file of every release, with its tags in the name
STEP_TIMEOUT_MINUTES = 30
INSTALLER_TIMEOUT_MINUTES = 15


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


def step(job: str, name_part: str) -> dict[str, Any]:
    matching = [s for s in steps(job) if name_part in s.get("name", "")]
    assert len(matching) == 1, f"one step of {job} named like {name_part!r}, found {len(matching)}"
    return matching[0]


def info_plist() -> dict[str, Any]:
    """The literal keys of the info_plist the spec gives BUNDLE (values that are expressions are left out)."""
    for node in ast.walk(ast.parse(SPEC.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BUNDLE":
            plist = next(k.value for k in node.keywords if k.arg == "info_plist")
            assert isinstance(plist, ast.Dict)
            return {
                ast.literal_eval(key): value.value
                for key, value in zip(plist.keys, plist.values, strict=True)
                if key is not None and isinstance(value, ast.Constant)
            }
    raise AssertionError("the spec has no BUNDLE(...) call")


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
    job = workflow()["jobs"]["package"]
    oses = job["strategy"]["matrix"]["os"]
    assert {os.split("-")[0] for os in oses} == {"ubuntu", "macos", "windows"}
    # Apple Silicon and Intel: psutil has no universal2 wheel, so each gets its own build.
    assert {"macos-15", "macos-15-intel"} <= set(oses)
    assert "matrix.os" in job["steps"][-1]["with"]["name"]  # two macOS builds: one artifact each
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


def test_every_step_that_runs_something_has_a_short_timeout() -> None:
    for job in workflow()["jobs"]:
        for entry in steps(job):
            if "run" in entry:
                minutes = entry.get("timeout-minutes")
                assert minutes is not None, f"{job}: {entry['name']!r} has no timeout-minutes"
                assert minutes <= STEP_TIMEOUT_MINUTES, f"{job}: {entry['name']!r} may run {minutes} minutes"


def test_the_windows_installer_runs_from_powershell_with_a_log_and_a_short_timeout() -> None:
    installer = step("package", "Install, self-test and uninstall what ships (Windows)")
    # Git Bash would rewrite /VERYSILENT and the other switches into paths: the installer would wait for a click.
    assert installer["shell"] == "pwsh"
    assert installer["timeout-minutes"] <= INSTALLER_TIMEOUT_MINUTES
    script = installer["run"]
    for switch in ("/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER", "/LOG="):
        assert switch in script
    assert "cygpath" not in script
    assert "unins000.exe" in script  # uninstalled too, and checked for the start-at-login entry
    assert "CurrentVersion\\Run" in script
    for entry in steps("package"):
        if "/VERYSILENT" in entry.get("run", ""):
            assert entry.get("shell") == "pwsh", f"{entry['name']!r} runs the installer under bash"


def test_the_macos_build_checks_its_plist_and_signature_and_keeps_the_sandbox_on() -> None:
    check = step("package", "Check the signature and Info.plist (macOS)")["run"]
    assert "codesign --verify --deep --strict" in check
    assert "LSBackgroundOnly" in check
    assert "grep -qx false" in check
    assert "LSMinimumSystemVersion" in check
    build = step("package", "Build (macOS)")
    assert "QTWEBENGINE_DISABLE_SANDBOX" not in build.get("env", {})
    assert "sandbox off" in step("package", "Self-test what ships (macOS)")["run"]
    assert "QTWEBENGINE_DISABLE_SANDBOX" not in (workflow()["jobs"]["package"].get("env") or {})


def test_signing_and_notarizing_run_only_with_their_secrets_and_say_so_otherwise() -> None:
    for name in ("Import the Developer ID certificate", "Notarize"):
        script = step("package", name)["run"]
        assert "::notice" in script, f"{name}: a skipped step says why"
        assert script.index("exit 0") < script.index("security" if "certificate" in name else "notarytool")


def test_the_platform_suite_runs_on_windows_and_macos() -> None:
    job = workflow()["jobs"]["test"]
    assert set(job["strategy"]["matrix"]["os"]) == {"windows-latest", "macos-latest"}
    command = " ".join(entry.get("run", "") for entry in job["steps"])
    for path in ("tests/core", "tests/operations", "tests/server", "tests/core/test_processes.py"):
        assert path in command.split(), path
        assert (ROOT / path).exists(), path
    assert "workflow_dispatch" in workflow()[True]  # YAML reads the `on:` key as True


def test_a_tag_becomes_a_release_only_when_it_names_the_package_version() -> None:
    job = workflow()["jobs"]["release"]
    assert job["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert set(job["needs"]) == {"package", "test"}
    assert job["permissions"] == {"contents": "write"}
    runs = [entry.get("run", "") for entry in job["steps"]]
    check = next(n for n, run in enumerate(runs) if "packaging/check_tag.py" in run)
    publish = next(n for n, run in enumerate(runs) if "gh release create" in run)
    assert check < publish
    assert any(entry.get("uses", "").startswith("actions/download-artifact@") for entry in job["steps"][check:publish])


def check_tag(tag: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "packaging" / "check_tag.py"
    return subprocess.run([sys.executable, str(script), tag], capture_output=True, text=True, timeout=60)


def test_the_tag_check_passes_the_version_and_fails_anything_else() -> None:
    from murmuration import __version__

    assert check_tag(f"v{__version__}").returncode == 0
    for wrong in (f"v{__version__}.1", __version__, "v0.0.0-rc1", "latest"):
        result = check_tag(wrong)
        assert result.returncode == 1, wrong
        assert f"tag the release v{__version__}" in result.stderr


def test_the_spec_makes_a_menu_bar_app_that_can_take_focus() -> None:
    plist = info_plist()
    assert plist["LSUIElement"] is True
    assert plist["LSBackgroundOnly"] is False  # PyInstaller writes true for a console executable otherwise


def pinned(name: str) -> str:
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        found = re.fullmatch(rf"{re.escape(name)}==(\S+)", requirement, re.IGNORECASE)
        if found:
            return found.group(1)
    raise AssertionError(f"{name} is not pinned in pyproject.toml")


def macos_wheel_minimums(project: str, version: str) -> set[tuple[int, int]]:
    """The macOS versions the wheels of `project` `version` on PyPI are tagged for (macosx_13_0 -> (13, 0))."""
    request = urllib.request.Request(
        INDEX.format(name=project.lower()), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    tags = set()
    for entry in files:
        name = entry["filename"]
        if name.endswith(".whl") and f"-{version}-" in name:
            tags.update((int(a), int(b)) for a, b in re.findall(r"macosx_(\d+)_(\d+)", name))
    assert tags, f"no macOS wheel of {project} {version} on PyPI"
    return tags


def test_the_minimum_macos_is_what_the_pinned_pyside6_wheels_need() -> None:
    version = pinned("PySide6")
    needed = max(
        min(macos_wheel_minimums(project, version)) for project in ("PySide6_Essentials", "PySide6_Addons", "shiboken6")
    )
    assert info_plist()["LSMinimumSystemVersion"] == f"{needed[0]}.{needed[1]}"


def test_the_installer_removes_start_at_login_when_uninstalling() -> None:
    script = (ROOT / "packaging" / "windows" / "murmuration.iss").read_text()
    section = script.split("[UninstallRun]", 1)[1]
    assert r'delete ""HKCU\Software\Microsoft\Windows\CurrentVersion\Run"" /v Murmuration /f' in section
    # The same value the app writes when "Start at login" is ticked.
    from murmuration.tray import autostart

    assert autostart.RUN_KEY == r"Software\Microsoft\Windows\CurrentVersion\Run"
