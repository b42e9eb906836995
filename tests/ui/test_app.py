"""Starting the designer: one clear line where it cannot show a window; a real window under Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from designer.cli import main

ROOT = Path(__file__).parents[2]


def test_no_display_is_one_clear_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no display" in err and "skill-designer run" in err


def test_a_missing_qt_library_names_the_debian_package(monkeypatch, tmp_path):
    from designer.ui import app

    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(app, "_missing_libraries", lambda binary: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    problem = app.startup_problem()
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in problem
    assert "skill-designer run" in problem


@pytest.mark.skipif(
    shutil.which("xvfb-run") is None, reason="xvfb-run is not installed (.ci/run installs it)"
)
def test_the_real_app_shows_its_window_under_xvfb(tmp_path):
    """Start `skill-designer` as a user would, on a real X server, and keep a screenshot of the window."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env["SKILL_DESIGNER_DATA"] = str(tmp_path / "data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    shot = tmp_path / "main-window.png"
    env["SKILL_DESIGNER_SCREENSHOT"] = str(shot)
    started = time.monotonic()
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "designer.cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "window-shown" in result.stdout
    assert shot.exists() and shot.stat().st_size > 20_000
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() >= 1200 and image.height() >= 800
    keep = ROOT / "tests" / "ui" / "screenshots"
    keep.mkdir(exist_ok=True)
    shutil.copy(shot, keep / "main-window.png")
    assert time.monotonic() - started < 90


def _deep(path: Path) -> None:
    path.write_text('{"format": "skill-designer", "x": ' + "[" * 200 + "]" * 200 + "}")


def _loop(path: Path) -> None:
    other = path.with_name("other.skill.json")
    path.symlink_to(other)
    other.symlink_to(path)


BAD_FILES = {
    "invalid-json": (lambda p: p.write_text('{\n  "format": "skill-designer",\n  "nodes": [,]\n}'), ":3:"),
    "nan": (lambda p: p.write_text('{"format": "skill-designer", "format_version": NaN}'), "NaN"),
    "deep": (_deep, "nest"),
    "missing": (lambda p: None, "file not found"),
    "symlink-loop": (_loop, "cannot read"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_skill_file_given_at_start_that_cannot_open_is_said_in_a_dialog_and_on_the_terminal(
    case, tmp_path, monkeypatch, capsys, qapp
):
    from PySide6.QtWidgets import QApplication, QMessageBox

    make, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.skill.json"
    make(path)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(str(a[2])))
    monkeypatch.setattr(QApplication, "exec", lambda *a: (QApplication.processEvents(), 0)[1])
    monkeypatch.setattr("designer.ui.window.MainWindow.offer_recovery", lambda self: None)
    assert main([str(path)]) == 0
    err = capsys.readouterr().err
    assert str(path) in err and expected in err, err
    assert len(shown) == 1 and str(path) in shown[0] and expected in shown[0]
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "MainWindow":
            widget.canvas.undo_stack().setClean()
            widget.close()
            widget.deleteLater()
