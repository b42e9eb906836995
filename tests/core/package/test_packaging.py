"""packaging/: the runtime image's recipe stays buildable and GUI-free; the desktop entry is complete."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGING = ROOT / "packaging"


def _requirements(**env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "runtime" / "requirements.py"), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return result.stdout.split()


def test_runtime_requirements_leave_the_gui_out_and_swap_onnxruntime():
    names = [re.split(r"[<>=!~]", r)[0].lower() for r in _requirements()]
    assert "onnxruntime" in names and "opencv-python-headless" in names and "grpcio" in names
    assert not {"pyside6-essentials", "nodegraphqt"} & set(names)
    gpu = _requirements(ONNXRUNTIME="onnxruntime-gpu")
    assert any(r.startswith("onnxruntime-gpu>=") for r in gpu) and not any(
        r.startswith("onnxruntime>") for r in gpu
    )


def test_the_headless_runner_never_imports_qt():
    """The runtime image has no PySide6: every subcommand but the designer must load without it."""
    code = (
        "import sys; from designer.cli import build_parser; build_parser(); "
        "import designer.core.package, designer.commands.run; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'NodeGraphQt', 'shiboken6')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_the_dockerfile_copies_files_that_exist_and_runs_the_package():
    text = (PACKAGING / "runtime" / "Dockerfile").read_text()
    locks = sorted(p.name for p in (PACKAGING / "runtime").glob("*.lock"))
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                for lock in locks:  # every variant's lock
                    assert (ROOT / source.replace("${LOCK}", lock)).exists(), source
    assert 'ENTRYPOINT ["skill-designer", "run", "/package.zip"]' in text
    assert "ARG BASE_IMAGE=python:3.11-slim" in text


def test_desktop_entry_and_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING / "desktop" / "skill-designer.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Exec"].startswith("skill-designer")
    assert desktop["Icon"] == "skill-designer"
    svg = ElementTree.parse(PACKAGING / "desktop" / f"{desktop['Icon']}.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
    # Every MIME type the entry declares is defined by a shipped shared-mime-info file.
    declared = {t for t in desktop["MimeType"].split(";") if t}
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    shipped = ElementTree.parse(PACKAGING / "desktop" / "skill-designer.xml").getroot()
    defined = {t.get("type"): t for t in shipped.findall("m:mime-type", ns)}
    assert declared and declared <= set(defined)
    globs = [g.get("pattern") for g in defined["application/x-skill-designer-skill"].findall("m:glob", ns)]
    assert globs == ["*.skill.json"]
    assert "skill-designer.xml" in (PACKAGING / "desktop" / "skill-designer.spec").read_text()


def test_the_mime_definition_installs_into_a_mime_database(tmp_path):
    """update-mime-database (shared-mime-info) takes the file and maps *.skill.json to the type."""
    tool = shutil.which("update-mime-database")
    if tool is None:
        pytest.skip("update-mime-database (shared-mime-info) is not installed")
    database = tmp_path / "mime"  # $XDG_DATA_HOME/mime, as for one user
    (database / "packages").mkdir(parents=True)
    shutil.copy2(PACKAGING / "desktop" / "skill-designer.xml", database / "packages")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run([tool, str(database)], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    assert "application/x-skill-designer-skill:*.skill.json" in (database / "globs2").read_text()


def test_verifying_and_running_a_package_never_import_onnx():
    """ONNX takes seconds to import on a small device; only exporting needs it."""
    code = (
        "import sys; from designer.core.package import PackageError, open_package, verify_package; "
        "print('onnx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"
