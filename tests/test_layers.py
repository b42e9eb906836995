"""The headless layers (designer.core, designer.customnode) must never pull in Qt.

Devices run skills without a display, and the engine runs under pytest
without one: a Qt import there would break both. Checked twice: statically
over the source, and by importing every module in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
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
