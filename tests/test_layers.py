"""The layers import only downward: the import contracts the README's design notes describe.

The headless layers (designer.core, designer.customnode) never pull in Qt: devices run skills
without a display, and the engine runs under pytest without one. The custom node SDK never
imports designer.core (authors install it alone); the skill model never imports the engine or
the package parts (they read it, not the other way); the core never imports the UI or the
commands; the UI never imports the commands. Each contract is checked twice: statically over
every import statement of the source (function-level ones included), and by importing every
module of the layer in a fresh interpreter and looking at what got loaded.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADLESS = ("designer/core", "designer/customnode")
QT = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "NodeGraphQt", "qtpy", "pytestqt")


def _is_qt(name: str) -> bool:
    return name.split(".")[0] in QT


def _sources() -> list[Path]:
    files = sorted(p for package in HEADLESS for p in (ROOT / package).rglob("*.py"))
    assert files, "no sources found: did the package move?"
    return files


def qt_imports(tree: ast.AST) -> list[str]:
    """Qt modules named by import statements or by importlib/__import__ calls with a literal name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_qt(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _is_qt(node.module):
            found.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            value = node.args[0].value
            if name in {"import_module", "__import__"} and isinstance(value, str) and _is_qt(value):
                found.append(value)
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_qt_import_in_source(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert qt_imports(tree) == [], f"{path.relative_to(ROOT)} imports Qt"


BLOCK_QT = """
import importlib.abc, sys
class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in QT:
            raise ModuleNotFoundError(f"No module named {name!r} (a device without Qt)")
sys.meta_path.insert(0, NoQt())
"""

RUN_HEADLESS = """
from designer.cli import main
skill = sys.argv[1]
code = main(["validate", skill])
if code == 0:
    code = main(["run", skill, "--max-frames", "3", "--realtime", "off"])
sys.exit(code)
"""


def test_a_device_without_qt_validates_and_runs_a_skill(tmp_path):
    """A device has no Qt installed: the commands a device uses must work when importing Qt fails."""
    skill = ROOT / "resources" / "samples" / "default.skill.json"
    log = tmp_path / "insights.jsonl"  # the sample's Insights Log, in the working folder
    code = f"QT = {QT!r}\n{BLOCK_QT}\n{RUN_HEADLESS}"
    done = subprocess.run(
        [sys.executable, "-c", code, str(skill)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(log.read_text(encoding="utf-8").splitlines()) == 3


IMPORT_ALL = """
import importlib, json, pkgutil, sys
failed = {}
for package in ("designer.core", "designer.customnode"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed[info.name] = f"{type(exc).__name__}: {exc}"
qt = sorted(m for m in sys.modules if m.split(".")[0] in QT)
ours = [m for m in sys.modules if m.startswith("designer.")]
print(json.dumps({"qt": qt, "failed": failed, "modules": ours}))
"""


def test_importing_every_headless_module_loads_no_qt():
    code = f"QT = {QT!r}\n{IMPORT_ALL}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, "headless modules that do not import"
    assert result["qt"] == []
    on_disk = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in _sources()
    }
    assert on_disk <= set(result["modules"])  # the walk imported every module, none left out


# -- the designer's own layers ---------------------------------------------------------------

# layer package -> the packages it must never import, and why
CONTRACTS: dict[str, tuple[tuple[str, ...], str]] = {
    "designer.customnode": (("designer.core",), "the custom node SDK is installed alone by authors"),
    "designer.core.skill": (
        ("designer.core.engine", "designer.core.package"),
        "the skill model is read by the engine and the package parts, never the other way",
    ),
    "designer.core": (("designer.ui", "designer.commands"), "the core runs headless, under any front"),
    "designer.ui": (("designer.commands",), "the designer and the CLI are two fronts on the core"),
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _layer_sources(layer: str) -> list[Path]:
    folder = ROOT.joinpath(*layer.split("."))
    files = sorted(folder.rglob("*.py"))
    assert files, f"no sources under {folder}: did the package move?"
    return files


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module an import statement anywhere in the file names, relative ones resolved.

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c`` (c may be a module); calls of
    ``import_module`` / ``__import__`` with a literal name count too.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            value = node.args[0].value
            if called in {"import_module", "__import__"} and isinstance(value, str):
                found.append((node.lineno, value))
    return found


def _inside(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("layer", sorted(CONTRACTS))
def test_no_layer_imports_a_forbidden_package_in_source(layer: str):
    forbidden, why = CONTRACTS[layer]
    broken = []
    for path in _layer_sources(layer):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = _module_name(path)
        for line, name in imported_modules(tree, module, path.name == "__init__.py"):
            if _inside(name, forbidden):
                broken.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert broken == [], f"{layer} must not import {', '.join(forbidden)} ({why})"


IMPORT_LAYER = """
import importlib, json, pkgutil, sys
layer, forbidden = sys.argv[1], tuple(sys.argv[2:])
failed = {}
root = importlib.import_module(layer)
for info in pkgutil.walk_packages(root.__path__, layer + "."):
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed[info.name] = f"{type(exc).__name__}: {exc}"
loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
ours = [m for m in sys.modules if m.startswith(layer + ".") or m == layer]
print(json.dumps({"loaded": loaded, "failed": failed, "modules": ours}))
"""


@pytest.mark.parametrize("layer", sorted(CONTRACTS))
def test_importing_every_module_of_a_layer_loads_no_forbidden_package(layer: str):
    forbidden, why = CONTRACTS[layer]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_LAYER, layer, *forbidden],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, f"modules of {layer} that do not import"
    assert result["loaded"] == [], f"{layer} loaded {', '.join(forbidden)} ({why})"
    assert {_module_name(p) for p in _layer_sources(layer)} <= set(result["modules"])
