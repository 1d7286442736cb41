"""The layers' nevers, enforced: core knows no transport or GUI, the server no Qt, the tray no core.

Checked twice, because each way misses what the other sees:
- statically, by walking the AST of every module of the package (imports inside functions and under
  TYPE_CHECKING included, since a lazy import is still a dependency) and following our own modules
  transitively, so a violation is reported with the chain of imports that leads to it;
- at run time, by importing every module of a layer in a fresh interpreter and looking at `sys.modules`,
  which also catches a third-party package that drags a forbidden one in.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "app" / "murmuration"

QT = ("PySide6", "shiboken6", "qasync")
# layer → the modules (ours or third-party, by prefix) that no module of it may reach.
NEVERS: dict[str, tuple[str, ...]] = {
    "murmuration.core": (
        "murmuration.server",
        "murmuration.tray",
        "murmuration.operations",
        "murmuration.mcp_bridge",
        "murmuration.client",
        "murmuration.cli",
        "mcp",
        "mcp_types",
        "websockets",
        *QT,
    ),
    "murmuration.server": ("murmuration.tray", "murmuration.mcp_bridge", "murmuration.cli", *QT),
    "murmuration.tray": ("murmuration.core", "murmuration.server", "murmuration.operations"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module `module` names in an import statement anywhere in its source, resolved to full names."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            # `from murmuration import registry` imports the module murmuration.registry.
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return frozenset(found)


def chains_from(module: str) -> Iterator[list[str]]:
    """Every module reachable from `module` through our own modules, with the import chain that reaches it."""
    seen = {module}
    stack = [[module]]
    while stack:
        chain = stack.pop()
        for name in sorted(imports_of(chain[-1])):
            if name in seen:
                continue
            seen.add(name)
            # Importing a.b.c runs a/__init__ and a/b/__init__ too.
            parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
            for step in [*parents, name]:
                yield [*chain, step]
                if step in MODULES and step not in chain:
                    stack.append([*chain, step])


@pytest.mark.parametrize("layer", sorted(NEVERS))
def test_no_module_of_a_layer_reaches_what_the_layer_must_never_import(layer: str) -> None:
    violations = []
    for module in (m for m in MODULES if within(m, layer)):
        for chain in chains_from(module):
            banned = next((b for b in NEVERS[layer] if within(chain[-1], b)), None)
            if banned is not None:
                violations.append(" → ".join(chain))
                break
    assert not violations, f"{layer} must never import {NEVERS[layer]}:\n" + "\n".join(violations)


@pytest.mark.parametrize("layer", sorted(NEVERS))
def test_importing_a_whole_layer_loads_nothing_it_must_never_import(layer: str) -> None:
    modules = [m for m in MODULES if within(m, layer)]
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    banned = sorted(name for name in loaded for b in NEVERS[layer] if within(name, b))
    assert not banned, f"importing {layer} loaded {banned}"


def test_the_walk_sees_imports_inside_functions() -> None:
    """The static walk is only as good as its parser: `murmuration _reap` imports core.reaper lazily."""
    assert "murmuration.core.reaper" in imports_of("murmuration.cli.main")
